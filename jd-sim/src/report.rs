//! The result of checking one answer or callback: lines of ✓ (fine), plain notes, and ✗
//! (problems, said in Chinese and English). A report with any problem is invalid (exit code 1).

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    Ok,
    Note,
    Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<Line>,
}

impl Report {
    pub fn ok(&mut self, text: impl Into<String>) {
        self.push(Level::Ok, text.into());
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.push(Level::Note, text.into());
    }

    /// A problem: `zh (en)`, then `: detail` when there is one.
    pub fn problem(&mut self, zh: &str, en: &str, detail: impl Into<String>) {
        let detail = detail.into();
        let text = if detail.is_empty() {
            format!("{zh} ({en})")
        } else {
            format!("{zh} ({en}): {detail}")
        };
        self.push(Level::Problem, text);
    }

    fn push(&mut self, level: Level, text: String) {
        self.lines.push(Line { level, text });
    }

    pub fn is_valid(&self) -> bool {
        !self.lines.iter().any(|l| l.level == Level::Problem)
    }

    pub fn problems(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(|l| l.level == Level::Problem)
            .map(|l| l.text.as_str())
    }

    /// One line per check, then the verdict.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let mark = match line.level {
                Level::Ok => "✓ ",
                Level::Note => "· ",
                Level::Problem => "✗ ",
            };
            out.push_str(mark);
            out.push_str(&line.text);
            out.push('\n');
        }
        let problems = self.problems().count();
        if problems == 0 {
            out.push_str("结果 (result): ✓ 有效 (valid)\n");
        } else {
            out.push_str(&format!(
                "结果 (result): ✗ 发现 {problems} 个问题 ({problems} problem(s) found)\n"
            ));
        }
        out
    }

    /// `{"valid": …, "checks": [{"level": "ok"|"note"|"problem", "text": …}]}` for `--json`.
    pub fn to_json(&self) -> Value {
        let checks: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let level = match l.level {
                    Level::Ok => "ok",
                    Level::Note => "note",
                    Level::Problem => "problem",
                };
                json!({"level": level, "text": l.text})
            })
            .collect();
        json!({"valid": self.is_valid(), "checks": checks})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_make_a_report_invalid() {
        let mut r = Report::default();
        r.ok("签名正确");
        r.note("x");
        assert!(r.is_valid());
        assert!(r.render().ends_with("结果 (result): ✓ 有效 (valid)\n"));
        r.problem(
            "应答签名错误",
            "answer signature mismatch",
            "expected a got b",
        );
        assert!(!r.is_valid());
        let text = r.render();
        assert!(text.contains("✗ 应答签名错误 (answer signature mismatch): expected a got b\n"));
        assert!(text.contains("✗ 发现 1 个问题"));
        assert_eq!(r.to_json()["valid"], false);
        assert_eq!(r.to_json()["checks"][2]["level"], "problem");
    }
}
