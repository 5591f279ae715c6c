//! Used by tests/tui_tmux.rs: enters the TUI's terminal mode exactly as the
//! console does, then panics. The terminal must come back usable.
fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    tractor::tui::install_panic_hook();
    let mut guard = tractor::tui::Guard::enter()?;
    guard.terminal.draw(|f| {
        f.render_widget(ratatui::widgets::Paragraph::new("about to panic"), f.area());
    })?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let v: Vec<u8> = Vec::new();
    // an index out of bounds, like a bug would
    let i = std::env::args().count() + 3;
    println!("{}", v[i]);
    Ok(())
}
