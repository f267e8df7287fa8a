//! Pod statuses as `kubectl get pod -o yaml` and `-o json` print them: the kubelet's
//! evictions (`status.reason: Evicted`, `status.message: The node was low on resource: …`).
//!
//! The document arrives a line at a time through the same parser as logs, so it is read by
//! indentation: each `key: value` (YAML) or `"key": value,` (JSON) line is placed under the
//! nearest less-indented key. Only the keys below matter: `metadata.name`,
//! `metadata.namespace`, `status.reason`, `status.message` (whose YAML value may continue on
//! deeper-indented lines, quoted or as a `>-` block) and `containerStatuses[].name` with its
//! `state.terminated.{reason,exitCode}`. Pasted snippets often start inside `status:`, so a
//! `message`/`reason` key with no parent is taken as the status's. `kubectl describe pod`
//! prints the same fields capitalized at column 0 (`Name:`, `Reason:`, `Message:`).

/// One container status of the pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerStatus {
    /// `name`.
    pub name: Option<String>,
    /// `state.terminated.reason` (else `lastState.terminated.reason`).
    pub reason: Option<String>,
    /// `state.terminated.exitCode` (else `lastState.terminated.exitCode`).
    pub exit_code: Option<i32>,
}

/// A pod document that was read to its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodStatus {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `status.reason`.
    pub reason: Option<String>,
    /// `status.message`, continuation lines joined with a space.
    pub message: Option<String>,
    /// `status.containerStatuses`.
    pub containers: Vec<ContainerStatus>,
    /// First and last input line of the document's keys.
    pub lines: (u64, u64),
}

/// Reads pod documents; see the module comment.
#[derive(Debug, Default)]
pub struct PodDoc {
    doc: Option<PodStatus>,
    stack: Vec<(usize, String)>,
    /// The indent of `status.message` while its value may continue on deeper lines.
    message_indent: Option<usize>,
}

/// A `key: value` or `"key": value,` line: its indent (a YAML `- ` counts as indent), key,
/// value without quotes and trailing comma, and whether it starts a list item.
fn key_line(raw: &str) -> Option<(usize, &str, &str, bool)> {
    let mut indent = raw.len() - raw.trim_start_matches(' ').len();
    let mut rest = &raw[indent..];
    let item = rest.starts_with("- ");
    if item {
        indent += 2;
        rest = &rest[2..];
    }
    let (key, value) = if let Some(r) = rest.strip_prefix('"') {
        let (k, v) = r.split_once('"')?;
        (k, v.trim_start().strip_prefix(':')?)
    } else {
        let i = rest.find(':')?;
        let v = &rest[i + 1..];
        if !(v.is_empty() || v.starts_with(' ')) {
            return None;
        }
        (&rest[..i], v)
    };
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
    {
        return None;
    }
    let v = value.trim().trim_end_matches(',');
    let v = v
        .strip_prefix('"')
        .map(|v| v.strip_suffix('"').unwrap_or(v))
        .or_else(|| {
            v.strip_prefix('\'')
                .map(|v| v.strip_suffix('\'').unwrap_or(v))
        })
        .unwrap_or(v);
    Some((indent, key, v, item))
}

impl PodDoc {
    /// True while a document is being read (its lines hold no trigger).
    pub fn is_open(&self) -> bool {
        self.doc.is_some()
    }

    /// Feed one line; returns a document that ended before it.
    pub fn push(&mut self, line: u64, raw: &str) -> Option<PodStatus> {
        let Some((indent, key, value, _item)) = key_line(raw) else {
            return self.other_line(line, raw);
        };
        while self.stack.last().is_some_and(|(i, _)| *i >= indent) {
            self.stack.pop();
        }
        self.message_indent = None;
        let parent = self.stack.last().map(|(_, k)| k.as_str());
        let in_list = parent.is_none_or(|p| p == "items");
        let mut ended = None;
        // A new pod starts at its first key (`apiVersion` by kubectl's order).
        if matches!(key, "apiVersion" | "kind") && in_list && self.has_content() {
            ended = self.doc.take();
        }
        // `kubectl describe pod` prints the same fields capitalized at column 0.
        let describe = parent.is_none() && indent == 0;
        let opens = matches!(key, "metadata" | "status" | "containerStatuses")
            || (parent.is_none() && matches!(key, "message" | "reason"))
            || (describe && matches!(key, "Name" | "Reason" | "Message"));
        if self.doc.is_none() && !opens {
            self.stack.push((indent, key.to_string()));
            return ended;
        }
        let doc = self.doc.get_or_insert_with(|| PodStatus {
            lines: (line, line),
            ..PodStatus::default()
        });
        doc.lines.1 = line;
        let path: Vec<&str> = self.stack.iter().map(|(_, k)| k.as_str()).collect();
        let n = path.len();
        let in_statuses = |p: &[&str]| p.iter().any(|k| k.ends_with("ontainerStatuses"));
        match (parent, key) {
            (Some("metadata"), "name") if doc.name.is_none() => doc.name = Some(value.into()),
            (None, "Name") if describe && doc.name.is_none() => doc.name = Some(value.into()),
            (Some("metadata"), "namespace") => doc.namespace = Some(value.into()),
            (None, "Namespace") if describe => doc.namespace = Some(value.into()),
            (None | Some("status"), "reason") => doc.reason = Some(value.into()),
            (None, "Reason") if describe => doc.reason = Some(value.into()),
            (None, "Message") if describe => doc.message = Some(value.into()),
            (None | Some("status"), "message") => {
                let block = matches!(value, ">" | ">-" | "|" | "|-");
                doc.message = Some(if block { "" } else { value }.to_string());
                self.message_indent = Some(indent);
            }
            (Some(p), "name") if p.ends_with("ontainerStatuses") && doc.containers.len() < 64 => {
                doc.containers.push(ContainerStatus {
                    name: Some(value.into()),
                    ..ContainerStatus::default()
                });
            }
            (Some("terminated"), "reason" | "exitCode") if n >= 2 && in_statuses(&path) => {
                let last = (path[n - 2] == "state") as u8;
                if let Some(c) = doc.containers.last_mut() {
                    // `state` wins over `lastState` (kubectl prints lastState first).
                    if key == "reason" && (last == 1 || c.reason.is_none()) {
                        c.reason = Some(value.into());
                    } else if key == "exitCode" && (last == 1 || c.exit_code.is_none()) {
                        c.exit_code = value.parse().ok();
                    }
                }
            }
            _ => {}
        }
        self.stack.push((indent, key.to_string()));
        ended
    }

    fn has_content(&self) -> bool {
        self.doc
            .as_ref()
            .is_some_and(|d| d.name.is_some() || d.reason.is_some() || d.message.is_some())
    }

    /// A line that is no key: a continuation of `status.message`, JSON punctuation, or the
    /// end of the document (anything else at column 0).
    fn other_line(&mut self, line: u64, raw: &str) -> Option<PodStatus> {
        let t = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if let (Some(mi), Some(doc)) = (self.message_indent, self.doc.as_mut()) {
            if indent > mi && !t.is_empty() {
                let m = doc.message.get_or_insert_with(String::new);
                if !m.is_empty() {
                    m.push(' ');
                }
                m.push_str(t.trim_end_matches(['\'', '"']));
                doc.lines.1 = line;
                return None;
            }
        }
        self.message_indent = None;
        let punct = t
            .bytes()
            .all(|b| matches!(b, b'{' | b'}' | b'[' | b']' | b','));
        // A describe field with a space in its name (`Start Time:`, `Controlled By:`).
        let describe_field = t.split_once(':').is_some_and(|(k, _)| {
            k.starts_with(|c: char| c.is_ascii_uppercase())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        });
        if indent == 0 && !describe_field && !(punct && !t.is_empty() && t != "}" && t != "]") {
            self.stack.clear();
            return self.finish();
        }
        None
    }

    /// End of input: the open document, if any.
    pub fn finish(&mut self) -> Option<PodStatus> {
        self.stack.clear();
        self.message_indent = None;
        self.doc.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_of_yaml_json_and_describe() {
        // Lines of the reports in tests/data/reported (see SOURCES.md there).
        assert_eq!(
            key_line("  reason: Evicted"),
            Some((2, "reason", "Evicted", false))
        );
        assert_eq!(
            key_line("  - ip: 10.7.0.103"),
            Some((4, "ip", "10.7.0.103", true))
        );
        assert_eq!(
            key_line("  message: 'Pod The node was low on resource: [MemoryPressure].'"),
            Some((
                2,
                "message",
                "Pod The node was low on resource: [MemoryPressure].",
                false
            ))
        );
        assert_eq!(
            key_line(r#"        "exitCode": 137,"#),
            Some((8, "exitCode", "137", false))
        );
        assert_eq!(
            key_line("Reason:             Evicted"),
            Some((0, "Reason", "Evicted", false))
        );
        // A folded message's continuation is no key, even with a colon in it.
        assert_eq!(
            key_line("      1Gi, available: 898240Ki. Container discovery was using 4Ki"),
            None
        );
        assert_eq!(key_line("    which exceeds its request of 12Gi. '"), None);
    }
}
