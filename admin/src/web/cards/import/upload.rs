//! What the upload form sent, and the text to import from it.

use axum::extract::Multipart;
use common::domain::card_import::{self, FileEncoding};

/// What the upload form sent.
#[derive(Default)]
pub(super) struct Upload {
    pub(super) product: String,
    pub(super) text: String,
    pub(super) file_name: String,
    pub(super) file: Vec<u8>,
}

pub(super) async fn read_upload(mut mp: Multipart) -> Result<Upload, String> {
    let mut u = Upload::default();
    let broken = |_| "上传的内容不完整或格式有误，请重新提交。".to_owned();
    while let Some(field) = mp.next_field().await.map_err(broken)? {
        match field.name().unwrap_or_default() {
            "product" => u.product = field.text().await.map_err(broken)?,
            "text" => u.text = field.text().await.map_err(broken)?,
            "file" => {
                u.file_name = field.file_name().unwrap_or_default().to_owned();
                u.file = field.bytes().await.map_err(broken)?.to_vec();
            }
            _ => {}
        }
    }
    Ok(u)
}

/// The file name without any directory part, for the batch's source.
pub(super) fn base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The text to import and where it came from, or why the upload cannot be used.
pub(super) fn upload_text(u: &Upload) -> Result<(String, String, FileEncoding), String> {
    let has_text = !u.text.trim().is_empty();
    let has_file = !u.file.is_empty();
    match (has_text, has_file) {
        (false, false) if !u.file_name.is_empty() => Err("上传的文件是空的。".into()),
        (false, false) => Err("请粘贴卡密，或选择要上传的文件。".into()),
        (true, true) => Err("请只用一种方式：粘贴卡密或上传文件（不要同时使用）。".into()),
        (true, false) => Ok((u.text.clone(), "粘贴".into(), FileEncoding::Utf8)),
        (false, true) => {
            let lower = u.file_name.to_ascii_lowercase();
            if [".xlsx", ".xls", ".zip", ".rar", ".7z", ".doc", ".docx"]
                .iter()
                .any(|ext| lower.ends_with(ext))
            {
                return Err(
                    "只支持 TXT / CSV 文本文件：Excel 文件请先「另存为」CSV 后再上传。".into(),
                );
            }
            let Some((text, encoding)) = card_import::decode_file(&u.file) else {
                return Err(
                    "无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 TXT / CSV 文件后再上传。"
                        .into(),
                );
            };
            if text.contains('\0') {
                return Err("上传的不是文本文件：请上传 TXT / CSV 文件。".into());
            }
            let name = match base_name(&u.file_name) {
                n if n.is_empty() => "上传文件".to_owned(),
                n => n,
            };
            Ok((text, name, encoding))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(text: &str, name: &str, file: &[u8]) -> Upload {
        Upload {
            product: "1".into(),
            text: text.into(),
            file_name: name.into(),
            file: file.to_vec(),
        }
    }

    #[test]
    fn upload_sources() {
        assert!(upload_text(&upload("", "", b"")).is_err());
        assert!(upload_text(&upload("  \n", "", b"")).is_err());
        assert!(upload_text(&upload("A,1", "a.txt", b"A,1")).is_err());
        assert!(upload_text(&upload("", "cards.xlsx", b"PK\x03\x04")).is_err());
        assert!(upload_text(&upload("", "a.txt", b"A,1\0")).is_err());
        let (t, src, enc) = upload_text(&upload("A,1", "", b"")).unwrap();
        assert_eq!(
            (t.as_str(), src.as_str(), enc),
            ("A,1", "粘贴", FileEncoding::Utf8)
        );
        let (_, src, enc) =
            upload_text(&upload("", "C:\\卡密\\批次1.txt", b"\xbf\xa8\xba\xc5\nA,1")).unwrap();
        assert_eq!((src.as_str(), enc), ("批次1.txt", FileEncoding::Gbk));
    }
}
