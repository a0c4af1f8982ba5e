//! Checkers for the trace tests, independent of the gort-trace crate's parser
//! (trace/src/json.rs): a small strict JSON parser and an XML
//! well-formedness check, so a bug in the writer cannot hide behind the same
//! bug in the reader.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

impl J {
    pub fn get(&self, k: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.get(k),
            _ => None,
        }
    }
    pub fn str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn num(&self) -> Option<f64> {
        match self {
            J::Num(n) => Some(*n),
            _ => None,
        }
    }
    pub fn arr(&self) -> Option<&Vec<J>> {
        match self {
            J::Arr(a) => Some(a),
            _ => None,
        }
    }
}

/// Parses RFC 8259 JSON (whole input); Err names the byte offset.
pub fn parse_json(s: &str) -> Result<J, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let v = val(b, &mut i)?;
    ws(b, &mut i);
    if i != b.len() {
        return Err(format!("trailing data at {i}"));
    }
    Ok(v)
}

fn ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && b" \t\r\n".contains(&b[*i]) {
        *i += 1;
    }
}

fn val(b: &[u8], i: &mut usize) -> Result<J, String> {
    ws(b, i);
    let c = *b.get(*i).ok_or("unexpected end")?;
    match c {
        b'{' => {
            *i += 1;
            let mut m = BTreeMap::new();
            ws(b, i);
            if b.get(*i) == Some(&b'}') {
                *i += 1;
                return Ok(J::Obj(m));
            }
            loop {
                ws(b, i);
                let k = match val(b, i)? {
                    J::Str(k) => k,
                    _ => return Err(format!("object key is not a string at {i}")),
                };
                ws(b, i);
                if b.get(*i) != Some(&b':') {
                    return Err(format!("expected ':' at {i}"));
                }
                *i += 1;
                let v = val(b, i)?;
                m.insert(k, v);
                ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return Ok(J::Obj(m));
                    }
                    _ => return Err(format!("expected ',' or '}}' at {i}")),
                }
            }
        }
        b'[' => {
            *i += 1;
            let mut a = Vec::new();
            ws(b, i);
            if b.get(*i) == Some(&b']') {
                *i += 1;
                return Ok(J::Arr(a));
            }
            loop {
                a.push(val(b, i)?);
                ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {
                        *i += 1;
                        return Ok(J::Arr(a));
                    }
                    _ => return Err(format!("expected ',' or ']' at {i}")),
                }
            }
        }
        b'"' => {
            *i += 1;
            let mut out = String::new();
            loop {
                let c = *b.get(*i).ok_or("unterminated string")?;
                *i += 1;
                match c {
                    b'"' => return Ok(J::Str(out)),
                    b'\\' => {
                        let e = *b.get(*i).ok_or("bad escape")?;
                        *i += 1;
                        match e {
                            b'"' => out.push('"'),
                            b'\\' => out.push('\\'),
                            b'/' => out.push('/'),
                            b'n' => out.push('\n'),
                            b't' => out.push('\t'),
                            b'r' => out.push('\r'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'u' => {
                                let h = std::str::from_utf8(b.get(*i..*i + 4).ok_or("short \\u")?)
                                    .map_err(|e| e.to_string())?;
                                let n = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
                                out.push(char::from_u32(n).unwrap_or('?'));
                                *i += 4;
                            }
                            _ => return Err(format!("bad escape at {i}")),
                        }
                    }
                    c if c < 0x20 => return Err(format!("raw control character at {i}")),
                    _ => {
                        // Copy one UTF-8 sequence.
                        let start = *i - 1;
                        let mut end = *i;
                        while end < b.len() && (b[end] & 0xC0) == 0x80 {
                            end += 1;
                        }
                        out.push_str(
                            std::str::from_utf8(&b[start..end]).map_err(|e| e.to_string())?,
                        );
                        *i = end;
                    }
                }
            }
        }
        b't' if b[*i..].starts_with(b"true") => {
            *i += 4;
            Ok(J::Bool(true))
        }
        b'f' if b[*i..].starts_with(b"false") => {
            *i += 5;
            Ok(J::Bool(false))
        }
        b'n' if b[*i..].starts_with(b"null") => {
            *i += 4;
            Ok(J::Null)
        }
        b'-' | b'0'..=b'9' => {
            // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
            let start = *i;
            if b[*i] == b'-' {
                *i += 1;
            }
            let digits = |i: &mut usize| {
                let s = *i;
                while *i < b.len() && b[*i].is_ascii_digit() {
                    *i += 1;
                }
                *i - s
            };
            if b.get(*i) == Some(&b'0') {
                *i += 1;
            } else if digits(i) == 0 {
                return Err(format!("bad number at {start}"));
            }
            if b.get(*i) == Some(&b'.') {
                *i += 1;
                if digits(i) == 0 {
                    return Err(format!("bad fraction at {start}"));
                }
            }
            if matches!(b.get(*i), Some(b'e' | b'E')) {
                *i += 1;
                if matches!(b.get(*i), Some(b'+' | b'-')) {
                    *i += 1;
                }
                if digits(i) == 0 {
                    return Err(format!("bad exponent at {start}"));
                }
            }
            let t = std::str::from_utf8(&b[start..*i]).map_err(|e| e.to_string())?;
            t.parse().map(J::Num).map_err(|e| format!("{e} at {start}"))
        }
        _ => Err(format!("unexpected byte {:?} at {i}", c as char)),
    }
}

/// Checks that `xml` is one well-formed element tree: every tag closed in
/// order, attributes quoted, entities known, no stray `<` or `&`. Returns
/// the root element's name.
pub fn check_xml(xml: &str) -> Result<String, String> {
    let b = xml.trim().as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' => {
                let end = xml.trim()[i..].find('>').ok_or("unclosed tag")? + i;
                let tag = &xml.trim()[i + 1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
                    if open != name.trim() {
                        return Err(format!("</{name}> closes <{open}>"));
                    }
                } else if tag.starts_with('?') || tag.starts_with('!') {
                    // declaration or comment
                } else {
                    let self_closing = tag.ends_with('/');
                    let body = tag.trim_end_matches('/');
                    let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_alphanumeric() || "-_:".contains(c))
                    {
                        return Err(format!("bad tag name in <{tag}>"));
                    }
                    check_attrs(&body[name.len()..])?;
                    if root.is_none() {
                        root = Some(name.clone());
                    } else if stack.is_empty() {
                        return Err(format!("second root element <{name}>"));
                    }
                    if !self_closing {
                        stack.push(name);
                    }
                }
                i = end + 1;
            }
            b'&' => {
                let rest = &xml.trim()[i..];
                let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| rest.starts_with(e));
                if !ok {
                    return Err(format!("bare '&' at {i}"));
                }
                i += 1;
            }
            b'>' => return Err(format!("stray '>' at {i}")),
            _ => i += 1,
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> never closed"));
    }
    root.ok_or("no element".into())
}

fn check_attrs(mut s: &str) -> Result<(), String> {
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(());
        }
        let eq = s.find('=').ok_or(format!("attribute without value: {s}"))?;
        let name = &s[..eq];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("bad attribute name {name:?}"));
        }
        let rest = &s[eq + 1..];
        let q = rest.chars().next().ok_or("missing attribute value")?;
        if q != '"' && q != '\'' {
            return Err(format!("unquoted attribute {name}"));
        }
        let close = rest[1..].find(q).ok_or("unterminated attribute")? + 1;
        if rest[1..close].contains('<') {
            return Err(format!("'<' in attribute {name}"));
        }
        s = &rest[close + 1..];
    }
}

/// The trace's events array.
pub fn events(doc: &J) -> &Vec<J> {
    doc.get("traceEvents")
        .and_then(J::arr)
        .expect("a traceEvents array")
}

/// The classic stealing scenario: one goroutine spawns `n` goroutines of CPU
/// work (they land on its own P), so the other P's M must steal them.
/// Repeats until the scheduler has counted a steal (bounded); returns the
/// number of rounds it took.
pub fn stealing_workload(n: usize) -> usize {
    for round in 1..=50 {
        let before = gort::stats().steals;
        let spawner = gort::go!(move || {
            let hs: Vec<_> = (0..n as u64)
                .map(|i| {
                    gort::go!(move || {
                        let mut x = i;
                        for _ in 0..20 {
                            x = crate::common::cpu_unit(x);
                        }
                        x
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .fold(0, u64::wrapping_add)
        });
        std::hint::black_box(spawner.join().unwrap());
        if gort::stats().steals > before {
            return round;
        }
    }
    panic!("no steal in 50 rounds of {n} goroutines");
}
