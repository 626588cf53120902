//! Unit tests for document splitting and error line numbers.

use super::*;

#[test]
fn splits_on_marker_lines_only() {
    let text = "a: 1\n---\nb: |\n  ---not a marker\n--- \nc: 3\n";
    let chunks = split_documents(text);
    let firsts: Vec<usize> = chunks.iter().map(|c| c.first_line).collect();
    assert_eq!(firsts, vec![0, 1, 4]);
    assert_eq!(chunks[1].text, "---\nb: |\n  ---not a marker\n");
}

#[test]
fn comment_only_preamble_is_not_a_document() {
    let chunks = split_documents("# header\n\n---\na: 1\n---\nb: 2\n");
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].first_line, 0);
    assert!(chunks[0].text.starts_with("# header"));
}

#[test]
fn text_without_markers_is_one_document() {
    assert_eq!(split_documents("a: 1\n").len(), 1);
    assert_eq!(split_documents("").len(), 1);
}

#[test]
fn error_lines_count_from_the_file_start() {
    assert_eq!(
        shift_lines("bad at line 2 column 3, while parsing at line 1 column 1", 10),
        "bad at line 12 column 3, while parsing at line 11 column 1"
    );
    assert_eq!(shift_lines("no numbers", 5), "no numbers");
}
