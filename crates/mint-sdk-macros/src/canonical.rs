//! The canonical token form a migration's checksum is computed over (`spec/migrations.md` §4.4).
//!
//! Rust cannot read a migration's source at run time, so its checksum is computed at compile time
//! from the token trees of the `impl` block. The canonical text is built from the tokens alone:
//! identifier and punctuation text, literals exactly as written, delimiters, one space between
//! every two tokens. It never uses `stringify!` or `TokenStream`'s `Display` (their spacing has
//! changed between compiler versions), spans, file paths or line numbers. Two relaxations make
//! edits that cannot change behaviour pass: `#[doc]` attributes (doc comments) are skipped, and a
//! comma directly before a closing delimiter is dropped. Comments and whitespace never reach the
//! token stream in the first place.
//!
//! This module is plain functions over `proc_macro2`, so it is unit-tested without a compiler.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use sha2::{Digest, Sha256};

/// The canonical text of `tokens` (see the module docs). Deterministic: equal token sequences
/// give equal text, whatever their spans.
pub fn canonical_text(tokens: TokenStream) -> String {
    let mut out = String::new();
    write_stream(&mut out, tokens, false);
    out
}

/// Lower-case hex SHA-256 (64 characters) of [`canonical_text`].
pub fn checksum_of_tokens(tokens: TokenStream) -> String {
    sha256_hex(canonical_text(tokens).as_bytes())
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(HEX[usize::from(byte >> 4)]);
        hex.push(HEX[usize::from(byte & 0x0f)]);
    }
    hex
}

const HEX: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
];

/// True when `trees[i..]` starts with a `#[doc …]` or `#![doc …]` attribute; returns how many
/// trees the attribute spans.
pub fn doc_attribute_len(trees: &[TokenTree], i: usize) -> Option<usize> {
    attribute_len(trees, i).filter(|&len| {
        matches!(trees.get(i + len - 1), Some(TokenTree::Group(g)) if first_ident_is(g.stream(), "doc"))
    })
}

/// How many trees an attribute starting at `trees[i]` spans (`#` `[...]` = 2, `#` `!` `[...]` = 3),
/// or `None` when no attribute starts there.
pub fn attribute_len(trees: &[TokenTree], i: usize) -> Option<usize> {
    let is_punct =
        |j: usize, c: char| matches!(trees.get(j), Some(TokenTree::Punct(p)) if p.as_char() == c);
    let is_bracket = |j: usize| matches!(trees.get(j), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket);
    if !is_punct(i, '#') {
        return None;
    }
    if is_bracket(i + 1) {
        Some(2)
    } else if is_punct(i + 1, '!') && is_bracket(i + 2) {
        Some(3)
    } else {
        None
    }
}

fn first_ident_is(stream: TokenStream, name: &str) -> bool {
    matches!(stream.into_iter().next(), Some(TokenTree::Ident(id)) if id == name)
}

fn push_token(out: &mut String, text: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(text);
}

fn write_stream(out: &mut String, tokens: TokenStream, in_group: bool) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        if let Some(len) = doc_attribute_len(&trees, i) {
            i += len;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    // Invisible groups (from macro_rules fragments) add no text of their own.
                    Delimiter::None => ("", ""),
                };
                if !open.is_empty() {
                    push_token(out, open);
                }
                write_stream(out, group.stream(), group.delimiter() != Delimiter::None);
                if !close.is_empty() {
                    push_token(out, close);
                }
            }
            TokenTree::Punct(punct) => {
                let trailing_comma = punct.as_char() == ',' && in_group && i + 1 == trees.len();
                if !trailing_comma {
                    push_token(out, &punct.as_char().to_string());
                }
            }
            TokenTree::Ident(ident) => push_token(out, &ident.to_string()),
            TokenTree::Literal(literal) => push_token(out, &literal.to_string()),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> TokenStream {
        src.parse().expect("test source must lex")
    }

    fn sum(src: &str) -> String {
        checksum_of_tokens(tokens(src))
    }

    const BASE: &str = r#"
        impl PluginMigration for CreatePanels {
            fn version(&self) -> u32 { 1 }
            fn name(&self) -> &'static str { "create_panels" }
            async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
                let kind = match self.version() {
                    1 => "first",
                    _ => "later",
                };
                ops.create_table("panels", &[Column::integer("id").primary_key(), Column::text(kind)]).await
            }
        }
    "#;

    const GOLDEN_BASE_DIGEST: &str =
        "4980bb2c0590f7b19342136ea286385d8af168501bf3ac1649048851c8d4c123";

    #[test]
    fn canonical_text_separates_every_token_by_one_space() {
        assert_eq!(
            canonical_text(tokens("fn f(a: u8)->u8{a+1}")),
            "fn f ( a : u8 ) - > u8 { a + 1 }"
        );
        assert_eq!(
            canonical_text(tokens("let s = r\"x\"; let n = 1_000u32;")),
            "let s = r\"x\" ; let n = 1_000u32 ;"
        );
    }

    #[test]
    fn checksum_is_64_lower_case_hex_and_stable() {
        let first = sum(BASE);
        assert_eq!(first.len(), 64);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        // A fixed digest: a change here means every stored checksum would stop matching.
        assert_eq!(sum("fn f ( ) { }"), sha256_hex(b"fn f ( ) { }"));
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(first, sum(BASE), "two runs over the same tokens agree");
        // Pinned: every build (and toolchain) must produce this exact digest for BASE.
        assert_eq!(first, GOLDEN_BASE_DIGEST);
    }

    #[test]
    fn comments_and_whitespace_do_not_change_the_checksum() {
        let reformatted = r#"
        // A comment before the impl is not part of the tokens.
        impl PluginMigration for CreatePanels
        {
            fn version(&self) -> u32 {
                1 // the first version
            }
            /* block comment */
            fn name(&self) -> &'static str { "create_panels" }

            async fn upgrade(&self, ops: &mut MigrationOps<'_>)
                -> Result<(), MigrationError>
            {
                let kind = match self.version() { 1 => "first", _ => "later" };
                ops.create_table(
                    "panels",
                    &[Column::integer("id").primary_key(), Column::text(kind)]
                ).await
            }
        }"#;
        assert_eq!(sum(BASE), sum(reformatted));
    }

    #[test]
    fn doc_comments_and_doc_attributes_do_not_change_the_checksum() {
        let documented = BASE
            .replace(
                "impl PluginMigration",
                "/// Creates the panels table.\n#[doc = \"more\"]\nimpl PluginMigration",
            )
            .replace(
                "fn version",
                "/** The version. */\n#[doc(hidden)]\nfn version",
            )
            .replace(
                "{\n            fn version",
                "{\n            //! Inner doc.\n            fn version",
            );
        assert_ne!(documented, BASE);
        assert_eq!(sum(BASE), sum(&documented));
    }

    #[test]
    fn trailing_commas_do_not_change_the_checksum() {
        let with_commas = BASE
            .replace("Column::text(kind)]", "Column::text(kind),]")
            .replace(").await\n", ",).await\n");
        assert_ne!(with_commas, BASE);
        assert_eq!(sum(BASE), sum(&with_commas));
        // Only a comma right before the closing delimiter is dropped.
        assert_ne!(sum("f(a, b)"), sum("f(a b)"));
    }

    #[test]
    fn token_edits_change_the_checksum() {
        let edits = [
            ("u32 { 1 }", "u32 { 2 }"),
            ("\"create_panels\"", "\"create_panel\""),
            ("Column::text(kind)", "Column::text(kind).not_null()"),
            ("\"panels\"", "\"panel\""),
            ("_ => \"later\"", "_ => \"other\""),
            ("fn name", "fn destructive(&self) -> bool { true } fn name"),
        ];
        for (from, to) in edits {
            let edited = BASE.replace(from, to);
            assert_ne!(edited, BASE, "edit {from:?} must apply");
            assert_ne!(
                sum(BASE),
                sum(&edited),
                "edit {from:?} -> {to:?} must be detected"
            );
        }
    }

    #[test]
    fn a_match_arm_wrapped_in_a_block_changes_the_checksum() {
        let wrapped = BASE.replace("1 => \"first\",", "1 => { \"first\" }");
        assert_ne!(wrapped, BASE);
        assert_ne!(sum(BASE), sum(&wrapped));
    }

    #[test]
    fn the_checksum_does_not_depend_on_spans_file_or_line() {
        // The same tokens lexed at a different position (as if moved to another file or line)
        // give the same text: spans never enter the canonical form.
        let shifted = format!("\n\n\n\n{BASE}");
        assert_eq!(sum(BASE), sum(&shifted));
        let from_parts: TokenStream = tokens(BASE).into_iter().collect();
        assert_eq!(canonical_text(from_parts), canonical_text(tokens(BASE)));
    }

    #[test]
    fn attribute_lengths_are_recognised() {
        let trees: Vec<TokenTree> = tokens("#[doc = \"x\"] #![doc(hidden)] #[inline] x")
            .into_iter()
            .collect();
        assert_eq!(doc_attribute_len(&trees, 0), Some(2));
        assert_eq!(doc_attribute_len(&trees, 2), Some(3));
        assert_eq!(doc_attribute_len(&trees, 5), None);
        assert_eq!(attribute_len(&trees, 5), Some(2));
        assert_eq!(attribute_len(&trees, 7), None);
    }
}
