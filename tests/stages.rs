//! The crate is a library: a test drives one stage without the binary.

use pkgwarden::managers::{self, Classified, Tool};
use pkgwarden::monitor::attribution::attribute;

#[test]
fn a_command_line_is_classified_through_the_adapter_table() {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match managers::classify(Tool::Pip, &words(&["install", "requests"])) {
        Classified::Install(req) => {
            assert_eq!(req.command, "install");
            assert_eq!(req.packages, vec!["requests".to_string()]);
        }
        other => panic!("not an install: {other:?}"),
    }
    assert!(matches!(
        managers::classify(Tool::Gem, &words(&["list"])),
        Classified::Passthrough { .. }
    ));
}

#[test]
fn a_build_process_is_attributed_by_the_plans_shapes() {
    let rules = managers::attribution();
    let argv: Vec<String> = ["ruby", "extconf.rb"].map(String::from).to_vec();
    assert_eq!(
        attribute(
            &rules,
            Some("/g/gems/pwgem-1.2/ext/pwgem"),
            Some(&argv),
            None
        ),
        Some(("pwgem@1.2".to_string(), "extconf.rb".to_string()))
    );
    assert_eq!(
        attribute(&rules, Some("/home/u/proj"), Some(&argv), None),
        None
    );
}
