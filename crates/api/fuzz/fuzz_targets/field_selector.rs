//! Feeds arbitrary text to `FieldSelector::parse` and checks the properties the API server relies
//! on for `?fieldSelector=`: no panic, and a parsed selector renders (values escaped) to text
//! that parses back to the same selector (and renders the same again).

#![no_main]

use everynode_api::fields::FieldSelector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Query parameters reach the parser as UTF-8 text; other bytes are not interesting.
    let Ok(input) = std::str::from_utf8(data) else { return };
    let Ok(selector) = FieldSelector::parse(input) else { return };
    let text = selector.to_string();
    let again = match FieldSelector::parse(&text) {
        Ok(again) => again,
        Err(err) => panic!("{input:?} rendered as {text:?}, which fails to parse: {err}"),
    };
    assert_eq!(again, selector, "{input:?} rendered as {text:?}");
    assert_eq!(again.to_string(), text);
});
