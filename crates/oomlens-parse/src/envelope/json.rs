//! `journalctl -o json` (MESSAGE as a string or a byte array), `-o json-sse` (`data: {…}`)
//! and `-o json-seq` (`\x1e{…}`).

use std::borrow::Cow;

use oomlens_model::LogTime;

use crate::envelope::types::{Decoded, Envelope, Form, Hints};

/// A JSON entry, framed by json-sse's `data: ` or json-seq's RS (0x1e) or not at all.
pub(crate) fn decode_framed(line: &str) -> Option<Decoded<'static>> {
    // json-sse frames each entry as `data: {…}`, json-seq starts it with RS (0x1e).
    let (json, form) = if let Some(j) = line.strip_prefix("data: ") {
        (j, Form::JsonSse)
    } else if let Some(j) = line.strip_prefix('\u{1e}') {
        (j, Form::JsonSeq)
    } else {
        (line, Form::Json)
    };
    if !json.starts_with('{') {
        return None;
    }
    let mut d = decode_json(json)?;
    d.envelope.form = form;
    Some(d)
}

/// One `journalctl -o json` entry.
pub(crate) fn decode_json(line: &str) -> Option<Decoded<'static>> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let obj = v.as_object()?;
    let text = match obj.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        // journald stores non-UTF-8 messages as an array of byte values.
        serde_json::Value::Array(bytes) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
        _ => return None,
    };
    let field = |k: &str| obj.get(k).and_then(|v| v.as_str());
    let num = |k: &str| field(k).and_then(|s| s.parse::<u64>().ok());
    let kernel = field("_TRANSPORT") == Some("kernel");
    let mut time = LogTime {
        monotonic_us: num("_SOURCE_MONOTONIC_TIMESTAMP").or_else(|| num("__MONOTONIC_TIMESTAMP")),
        ..LogTime::default()
    };
    if let Some(rt) = num("__REALTIME_TIMESTAMP") {
        if let Ok(ts) = jiff::Timestamp::from_microsecond(rt as i64) {
            time.utc = Some(ts.to_string());
        }
    }
    let env = Envelope {
        form: Form::Json,
        hints: Hints::default(),
        time,
        host: field("_HOSTNAME").map(str::to_string),
        ident: if kernel {
            Some("kernel".into())
        } else {
            field("SYSLOG_IDENTIFIER").map(str::to_string)
        },
        pid: field("_PID")
            .or_else(|| field("SYSLOG_PID"))
            .and_then(|p| p.parse().ok()),
        kernel,
        anonymous: false,
    };
    let messages = text
        .split('\n')
        .map(|s| Cow::Owned(s.to_string()))
        .collect();
    Some(Decoded {
        envelope: env,
        messages,
        continuation: false,
    })
}
