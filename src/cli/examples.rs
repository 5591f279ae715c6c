//! The `Examples:` at the end of each subcommand's `--help`: what a person types first.

pub const ROOT: &str = "Examples:
  tractor                                   the console on every namespace of the current context
  tractor -n serving --readonly             one namespace, no writes possible
  tractor --scrape https://m.example:9443/metrics --cacert ca.pem
  kubectl tractor rollout undo deploy/classifier   installed as kubectl-tractor";

pub const STATUS: &str = "Examples:
  tractor rollout status deploy/classifier -n serving
  tractor rollout status deploy/classifier --timeout 5m && echo rolled out
  tractor rollout status deploy/classifier --no-watch -o json";

pub const HISTORY: &str = "Examples:
  tractor rollout history deploy/classifier
  tractor rollout history deploy/classifier --revision 3 -o json";

pub const UNDO: &str = "Examples:
  tractor rollout undo deploy/classifier             preview, confirm, follow
  tractor rollout undo deploy/classifier --to-revision 3 -y
  tractor rollout undo deploy/classifier --dry-run";

pub const RESTART: &str = "Examples:
  tractor rollout restart deploy/classifier -y";

pub const PAUSE: &str = "Examples:
  tractor rollout pause deploy/classifier -y";

pub const RESUME: &str = "Examples:
  tractor rollout resume deploy/classifier -y --timeout 5m";

pub const CANARY: &str = "Examples:
  tractor rollout canary deploy/classifier --model v2 --steps 1,25%,50% --interval 1m --compare
  tractor rollout canary -f analysis.toml --slo 'p99<250ms' --slo 'errors<1%'
  tractor rollout canary deploy/classifier --model v2 --dry-run";

pub const CANARY_STATUS: &str = "Examples:
  tractor rollout canary status deploy/classifier -o json";

pub const CANARY_PROMOTE: &str = "Examples:
  tractor rollout canary promote deploy/classifier -y";

pub const CANARY_ABORT: &str = "Examples:
  tractor rollout canary abort deploy/classifier -y";

pub const CANARY_RESUME: &str = "Examples:
  tractor rollout canary resume deploy/classifier
  tractor rollout canary resume deploy/classifier --take-over";

pub const SET_MODEL: &str = "Examples:
  tractor set model deploy/classifier v2
  tractor set model deploy/classifier v3 --path /models/v3.onnx -y";

pub const SET_IMAGE: &str = "Examples:
  tractor set image deploy/classifier registry.local/tractor-serve:0.2
  tractor set image deploy/classifier serve=registry.local/tractor-serve:0.2 --dry-run";

pub const SCALE: &str = "Examples:
  tractor scale deploy/classifier --replicas 4 -y";

pub const LOADTEST: &str = "Examples:
  tractor loadtest --url http://127.0.0.1:8080/v2/models/m/infer --body req.json --rate 200 --duration 60s
  tractor loadtest --url http://127.0.0.1:8080/v2/health/live --concurrency 32 --requests 100000 --no-tui
  tractor loadtest --url https://m.example:8443/predict --cacert ca.pem --profile ramp:10..500 --slo-p99 250ms
  tractor loadtest --url http://127.0.0.1:8080/predict --body x.json --rate 100 --deploy deploy/classifier -n serving";

pub const LOGS: &str = "Examples:
  tractor logs deploy/classifier -f                  every pod, new ones joining
  tractor logs deploy/classifier --revision 4 --since 10m --grep 'error|panic'
  tractor logs deploy/classifier --pod classifier-7d9f-x2x --previous
  tractor logs deploy/classifier --tail 100 -o json";

pub const DEMO: &str = "Examples:
  tractor demo                     replicas, load and the console on this machine
  tractor demo --duration 5m --readonly";

pub const COMPLETIONS: &str = "Examples:
  source <(tractor completions bash)
  tractor completions zsh > \"${fpath[1]}/_tractor\"
  tractor completions fish > ~/.config/fish/completions/tractor.fish";

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::Cli;

    /// Every leaf subcommand's help ends with examples, and each example parses: the words
    /// before a shell operator or a comment (three spaces) are a valid command line.
    #[test]
    fn every_subcommand_has_examples_that_parse() {
        fn leaves(c: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
            // hidden ones are started by tractor itself (a Job's worker), not by people
            let subs: Vec<_> = c
                .get_subcommands()
                .filter(|s| s.get_name() != "help" && !s.is_hide_set())
                .collect();
            if subs.is_empty() || c.get_name() == "canary" {
                out.push(path.clone());
            }
            for s in subs {
                let mut p = path.clone();
                p.push(s.get_name().to_string());
                leaves(s, p, out);
            }
        }
        let mut all = Vec::new();
        leaves(&Cli::command(), vec![], &mut all);
        assert!(all.len() >= 15, "{all:?}");
        let mut parsed = 0;
        for path in all.iter().filter(|p| !p.is_empty()) {
            let mut args = vec!["tractor".to_string()];
            args.extend(path.iter().cloned());
            args.push("--help".into());
            let help = match Cli::try_parse_from(&args) {
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => e.render().to_string(),
                other => panic!("{path:?}: {other:?}"),
            };
            let examples = help
                .split("Examples:")
                .nth(1)
                .unwrap_or_else(|| panic!("no examples in {path:?}:\n{help}"));
            let prefix = format!("tractor {}", path.join(" "));
            let mut mine = 0;
            for line in examples
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("tractor "))
            {
                let command = line.split("   ").next().unwrap_or(line);
                let words: Vec<String> = command
                    .split_whitespace()
                    .take_while(|w| !matches!(*w, "&&" | ">" | "|"))
                    .map(|w| w.trim_matches('\'').to_string())
                    .collect();
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("{path:?}: example {line:?} does not parse: {e}");
                }
                mine += usize::from(command.starts_with(&prefix));
                parsed += 1;
            }
            let shell = path == &["completions".to_string()];
            assert!(
                mine > 0 || shell,
                "{path:?}: no example of `{prefix}`:\n{examples}"
            );
        }
        assert!(parsed >= 25, "{parsed}");
    }
}
