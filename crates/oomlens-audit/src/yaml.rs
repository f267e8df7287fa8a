//! YAML (and JSON) documents as trees that remember their line numbers.
//!
//! Parsed with `saphyr-parser`, the maintained YAML 1.2 event parser (serde_yaml is
//! archived and serde_yml unsound and unmaintained, RUSTSEC-2025-0068), whose events carry
//! positions. A stream is first cut at its `---` lines (a document marker at the start of a
//! line cannot occur inside a document, YAML 1.2 §9.1.2), so a broken document is reported
//! with its file and line and the documents after it are still read.
//!
//! Limits keep a hostile or accidental input from exhausting memory: a document larger
//! than [`Limits::max_document_bytes`] (the API server refuses requests over 3 MiB), more
//! than [`Limits::max_nodes`] nodes after alias expansion (the "billion laughs"), or nesting
//! deeper than [`Limits::max_depth`] is refused with an error naming the line.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Size limits for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one document's text.
    pub max_document_bytes: usize,
    /// Nodes of one document, counting alias expansions.
    pub max_nodes: usize,
    /// Nesting depth.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // k8s.io/apiserver: MaxRequestBodyBytes defaults to 3 MiB.
            max_document_bytes: 3 << 20,
            max_nodes: 1_000_000,
            max_depth: 512,
        }
    }
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any other scalar, as written (numbers stay text so quantities keep their form).
    Str {
        /// The scalar's text.
        text: String,
        /// Whether it was written without quotes (and so could be a number).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line in the file.
    pub line: u32,
    /// Node count of this subtree (for the alias budget).
    size: usize,
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m.iter().find_map(|(k, v)| match &k.value {
                Value::Str { text, .. } if text == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// A name for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Str { plain: true, text } if looks_numeric(text) => "a number",
            Value::Str { .. } => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar text (strings and numbers), `None` otherwise.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether the node is null.
    pub fn is_null(&self) -> bool {
        self.value == Value::Null
    }
}

/// Whether a plain scalar resolves to a number under YAML 1.2's core schema (and the YAML
/// 1.1 forms Kubernetes' go-yaml also reads): decimal, `0x`/`0o` integers, floats with an
/// optional exponent, `.inf`, `.nan`.
fn looks_numeric(t: &str) -> bool {
    let u = t.strip_prefix(['+', '-']).unwrap_or(t);
    if matches!(u, ".inf" | ".Inf" | ".INF") || matches!(t, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    if let Some(h) = u.strip_prefix("0x") {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(o) = u.strip_prefix("0o") {
        return !o.is_empty() && o.chars().all(|c| ('0'..='7').contains(&c));
    }
    let (mant, exp) = match u.find(['e', 'E']) {
        Some(i) => (&u[..i], Some(&u[i + 1..])),
        None => (u, None),
    };
    let (int, frac) = match mant.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mant, None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mant_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mant_ok && exp_ok
}

/// One document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its root node; `None` for an empty document (only comments).
    pub root: Option<Node>,
    /// The line where the document starts.
    pub line: u32,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    /// 1-based line of the problem.
    pub line: u32,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
}

/// Splits a stream into documents and parses each; a failing document yields an `Err`
/// and the others are unaffected.
pub fn parse_stream(text: &str, limits: &Limits) -> Vec<Result<Document, DocError>> {
    let mut out = Vec::new();
    for (start_line, chunk) in split_documents(text) {
        if chunk.len() > limits.max_document_bytes {
            out.push(Err(DocError {
                line: start_line,
                column: None,
                message: format!(
                    "document is {} bytes, more than the {} accepted (the Kubernetes API server refuses requests over 3 MiB); skipped",
                    chunk.len(),
                    limits.max_document_bytes
                ),
            }));
            continue;
        }
        match parse_chunk(chunk, start_line, limits) {
            Ok(docs) => out.extend(docs.into_iter().map(Ok)),
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// Cuts at lines that are a document start marker (`---` followed by a blank or the end of
/// the line); each piece keeps its marker line and its first line number.
fn split_documents(text: &str) -> Vec<(u32, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare == "---"
            || bare.starts_with("--- ")
            || bare.starts_with("---\t")
            || bare.starts_with("--- #");
        if is_marker && offset > start {
            pieces.push((start_line, &text[start..offset]));
            start = offset;
            start_line = i as u32 + 1;
        }
        offset += line.len();
    }
    if start < text.len() || pieces.is_empty() {
        pieces.push((start_line, &text[start..]));
    }
    pieces
}

/// Events still being assembled: an open sequence or mapping.
enum Open {
    Seq(Vec<Node>, u32, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, u32, usize, usize),
}

fn parse_chunk(chunk: &str, first_line: u32, limits: &Limits) -> Result<Vec<Document>, DocError> {
    let off = first_line - 1;
    let mut parser = Parser::new_from_str(chunk);
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    let mut nodes = 0usize;
    let mut doc_line = first_line;
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| DocError {
            line: e.marker().line() as u32 + off,
            column: Some(e.marker().col() as u32 + 1),
            message: e.info().to_string(),
        })?;
        let line = span.start.line() as u32 + off;
        let too_big = |line: u32| DocError {
            line,
            column: None,
            message: format!(
                "document has more than {} nodes (counting alias expansions); skipped",
                limits.max_nodes
            ),
        };
        let too_deep = |line: u32| DocError {
            line,
            column: None,
            message: format!("nesting deeper than {} levels; skipped", limits.max_depth),
        };
        let finished: Option<(Node, usize)> = match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                doc_line = line;
                root = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                docs.push(Document {
                    root: root.take(),
                    line: doc_line,
                });
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                nodes += 1;
                if nodes > limits.max_nodes {
                    return Err(too_big(line));
                }
                let value = scalar_value(text, style, tag.as_deref().map(|t| t.suffix.as_str()));
                Some((
                    Node {
                        value,
                        line,
                        size: 1,
                    },
                    anchor,
                ))
            }
            Event::Alias(id) => {
                let n = anchors.get(&id).cloned().ok_or_else(|| DocError {
                    line,
                    column: None,
                    message: "alias to an unknown anchor".to_string(),
                })?;
                nodes += n.size;
                if nodes > limits.max_nodes {
                    return Err(too_big(line));
                }
                Some((n, 0))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(too_deep(line));
                }
                nodes += 1;
                stack.push(Open::Seq(Vec::new(), line, anchor, 1));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(too_deep(line));
                }
                nodes += 1;
                stack.push(Open::Map(Vec::new(), None, line, anchor, 1));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items, l, anchor, size)) => Some((
                    Node {
                        value: Value::Seq(items),
                        line: l,
                        size,
                    },
                    anchor,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(items, _, l, anchor, size)) => Some((
                    Node {
                        value: Value::Map(items),
                        line: l,
                        size,
                    },
                    anchor,
                )),
                _ => None,
            },
        };
        if let Some((node, anchor)) = finished {
            if anchor > 0 {
                anchors.insert(anchor, node.clone());
            }
            let size = node.size;
            match stack.last_mut() {
                Some(Open::Seq(items, _, _, total)) => {
                    items.push(node);
                    *total += size;
                }
                Some(Open::Map(items, pending, _, _, total)) => {
                    *total += size;
                    match pending.take() {
                        None => *pending = Some(node),
                        Some(k) => items.push((k, node)),
                    }
                }
                None => root = Some(node),
            }
        }
    }
    Ok(docs)
}

fn scalar_value(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::Str {
            text: text.into_owned(),
            plain: false,
        };
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::Str {
            text: text.into_owned(),
            plain: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(t: &str) -> Vec<Result<Document, DocError>> {
        parse_stream(t, &Limits::default())
    }

    #[test]
    fn lines_are_kept_across_documents() {
        let d = docs("# head\napiVersion: v1\nkind: Pod\n---\nkind: Service\nspec:\n  a: [1, 2]\n");
        assert_eq!(d.len(), 2);
        let a = d[0].as_ref().unwrap().root.as_ref().unwrap();
        assert_eq!(a.get("kind").unwrap().as_str(), Some("Pod"));
        assert_eq!(a.get("kind").unwrap().line, 3);
        let b = d[1].as_ref().unwrap().root.as_ref().unwrap();
        assert_eq!(b.get("kind").unwrap().line, 5);
        assert_eq!(b.get("spec").unwrap().get("a").unwrap().line, 7);
    }

    #[test]
    fn a_broken_document_does_not_hide_the_next() {
        let d = docs("kind: Pod\n---\nkind: [unclosed\nx: y\n---\nkind: Job\n");
        assert_eq!(d.len(), 3);
        assert!(d[0].is_ok());
        let e = d[1].as_ref().unwrap_err();
        assert!(e.line >= 3 && e.line <= 5, "{e:?}");
        assert_eq!(
            d[2].as_ref()
                .unwrap()
                .root
                .as_ref()
                .unwrap()
                .get("kind")
                .unwrap()
                .as_str(),
            Some("Job")
        );
    }

    #[test]
    fn json_and_scalars() {
        let d = docs("{\"kind\": \"List\", \"items\": [{\"a\": 1}], \"n\": null, \"b\": true, \"q\": \"512Mi\"}");
        let r = d[0].as_ref().unwrap().root.clone().unwrap();
        assert_eq!(r.get("items").unwrap().type_name(), "a list");
        assert!(r.get("n").unwrap().is_null());
        assert_eq!(r.get("b").unwrap().value, Value::Bool(true));
        assert_eq!(r.get("q").unwrap().as_str(), Some("512Mi"));
        let one = r.get("items").unwrap();
        let Value::Seq(items) = &one.value else {
            panic!()
        };
        assert_eq!(items[0].get("a").unwrap().type_name(), "a number");
    }

    #[test]
    fn alias_bombs_and_huge_documents_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        let d = docs(&format!("kind: Pod\n---\n{bomb}---\nkind: Job\n"));
        assert!(d[0].is_ok() && d[2].is_ok());
        assert!(
            d[1].as_ref().unwrap_err().message.contains("nodes"),
            "{:?}",
            d[1]
        );

        let big = format!(
            "kind: Pod\n---\ndata: \"{}\"\n---\nkind: Job\n",
            "x".repeat(4 << 20)
        );
        let d = docs(&big);
        let e = d[1].as_ref().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("3 MiB"));
        assert!(d[2].is_ok());

        let deep = format!("kind: Pod\n---\n{}{}\n", "[".repeat(2000), "]".repeat(2000));
        let d = docs(&deep);
        let m = &d[1].as_ref().unwrap_err().message;
        assert!(m.contains("nesting") || m.contains("recursion"), "{m}");
        assert!(d[0].is_ok());
    }

    #[test]
    fn numbers_are_told_from_strings() {
        for n in [
            "7", "-1", "+2", "1.5", ".5", "1e3", "1.5E-3", "0x1F", "0o17", ".inf", ".nan",
        ] {
            assert!(looks_numeric(n), "{n}");
        }
        for s in [
            "1.2.3",
            "e3",
            "1Gi",
            "512M",
            "v1",
            "1e",
            "0x",
            "nginx:1.14",
            ".",
        ] {
            assert!(!looks_numeric(s), "{s}");
        }
    }

    #[test]
    fn anchors_expand() {
        let d = docs("base: &r {memory: 1Gi}\nother: *r\n");
        let r = d[0].as_ref().unwrap().root.clone().unwrap();
        assert_eq!(
            r.get("other").unwrap().get("memory").unwrap().as_str(),
            Some("1Gi")
        );
    }
}
