//! Navigation in `update`: views, the cursor in each list, the filter.
use super::edit::Edit;
use crate::model::{Key, key};
use crate::state::keymap::{List, Move};
use crate::state::{Mode, Section, State, View, ViewId, rows};

/// Moves the cursor of the current list (in the detail view, of its section).
pub(super) fn move_cursor(s: &mut State, m: Move) {
    let id = s.view.id();
    let n = rows::count(s);
    let cur = match id {
        ViewId::Detail => s.detail_selected.get(&s.section).copied().unwrap_or(0),
        _ => s.selected(id),
    };
    let page = s.page.max(1);
    let to = match m {
        Move::Up => cur.saturating_sub(1),
        Move::Down => cur + 1,
        Move::Top => 0,
        Move::Bottom => n.saturating_sub(1),
        Move::PageUp => cur.saturating_sub(page),
        Move::PageDown => cur + page,
    };
    let to = to.min(n.saturating_sub(1));
    match id {
        ViewId::Detail => drop(s.detail_selected.insert(s.section, to)),
        _ => drop(s.selected.insert(id, to)),
    }
}

/// Back: clears the filter, else the follower or the message, else the previous view.
pub(super) fn back(s: &mut State) {
    let id = s.view.id();
    if !s.filter(id).is_empty() {
        s.filters.remove(&id);
    } else if s.follow.take().is_some() || s.flash.take().is_some() {
    } else if let Some(v) = s.back.pop() {
        s.view = v;
    }
}

/// The detail view's other list.
pub(super) fn next_section(s: &mut State) {
    s.section = match s.section {
        Section::Revisions => Section::Pods,
        Section::Pods => Section::Revisions,
    };
}

/// A `:` command's list.
pub(super) fn goto(s: &mut State, list: List) {
    let view = match list {
        List::Deployments => View::Deployments,
        List::Pods => View::Pods,
        List::Hpas => View::Hpas,
        List::Events => View::Events,
        List::Jobs => View::Jobs,
    };
    if s.view != view {
        s.back.clear();
        s.view = view;
    }
}

/// The filter prompt: applied as typed, kept on enter, dropped on esc.
pub(super) fn filter(s: &mut State, edit: Edit) {
    let id = s.view.id();
    match edit {
        Edit::Done(t) => {
            s.filters.insert(id, t);
            s.mode = Mode::Normal;
        }
        Edit::Cancel => {
            s.filters.remove(&id);
            s.mode = Mode::Normal;
        }
        Edit::Changed(t) => {
            s.filters.insert(id, t.clone());
            s.selected.insert(id, 0);
            s.mode = Mode::Filter(t);
        }
    }
}

/// The deployment the cursor is on, in any view.
pub fn selected_deployment(s: &State) -> Option<Key> {
    match &s.view {
        View::Deployments => rows::deployments(s)
            .get(s.selected(ViewId::Deployments))
            .map(|d| key(&d.metadata)),
        View::Detail(k) => Some(k.clone()),
        View::Hpas => rows::hpas(s).get(s.selected(ViewId::Hpas)).and_then(|h| {
            let spec = Some(&h.spec)?;
            (spec.scale_target_ref.kind == "Deployment").then(|| {
                (
                    h.metadata.namespace.clone().unwrap_or_default(),
                    spec.scale_target_ref.name.clone(),
                )
            })
        }),
        View::Pods => {
            let p = *rows::pods(s).get(s.selected(ViewId::Pods))?;
            rows::owner(s, &key(&p.metadata)).map(|(d, _)| d)
        }
        View::Events | View::Jobs => None,
        View::Monitor(k) => k.clone(),
        View::Logs(k) => Some(k.clone()),
    }
}

pub(super) fn open(s: &mut State) {
    if let View::Detail(_) | View::Events | View::Jobs | View::Monitor(_) | View::Logs(_) = s.view {
        return;
    }
    if let Some(k) = selected_deployment(s)
        && s.cluster.deployments.contains_key(&k)
    {
        s.back.push(s.view.clone());
        s.view = View::Detail(k);
        s.section = Section::Revisions;
        s.detail_selected.clear();
    }
}

/// The deployments a scrape limited to what is in view covers: the selected one and its
/// canary (whose pods the monitor shows beside the stable's).
pub fn scrape_focus(s: &State) -> Vec<Key> {
    selected_deployment(s)
        .map(|d| {
            let canary = (d.0.clone(), crate::canary::canary_name(&d.1));
            vec![d, canary]
        })
        .unwrap_or_default()
}
