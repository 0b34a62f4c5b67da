//! The product form: raw values as typed (kept to show the form again with its error), checked
//! into `ProductFields` with a Chinese message for anything unusable. Money is typed in yuan
//! and stored in fen, converted exactly (`common::domain::Fen`, never a float).

use common::db::products::{ProductFields, ProductRow};

use crate::web::form::FormFields;
use common::domain::{Fen, FulfilmentMode, StockPolicy};

/// The largest face value or price accepted: ¥1,000,000.00.
const MAX_FEN: i64 = 100_000_000;
const MAX_THRESHOLD: i64 = 1_000_000;
/// Thirty days.
const MAX_WAIT_SECONDS: i64 = 30 * 24 * 3600;
const NAME_MAX_CHARS: usize = 128;

pub const POLICIES: [(&str, &str); 2] = [
    ("fail", "缺货立即失败（平台退款）"),
    ("wait", "等待补货（超时后失败）"),
];

pub fn policy_label(p: StockPolicy) -> &'static str {
    match p {
        StockPolicy::Fail => "缺货即失败",
        StockPolicy::Wait => "等待补货",
    }
}

/// The form's values as typed.
#[derive(Debug, Clone, Default)]
pub struct ProductForm {
    pub name: String,
    pub mode: String,
    pub face_value: String,
    pub price: String,
    pub low_stock: String,
    pub policy: String,
    pub wait_seconds: String,
    pub enabled: bool,
}

impl ProductForm {
    /// A new product's defaults.
    pub fn blank() -> ProductForm {
        ProductForm {
            mode: "card".into(),
            policy: "fail".into(),
            wait_seconds: "3600".into(),
            enabled: true,
            ..Default::default()
        }
    }

    pub fn of(p: &ProductRow) -> ProductForm {
        ProductForm {
            name: p.name.clone(),
            mode: p.mode.as_str().to_owned(),
            face_value: p
                .face_value_fen
                .map(|f| Fen(f).to_yuan_string())
                .unwrap_or_default(),
            price: p
                .price_fen
                .map(|f| Fen(f).to_yuan_string())
                .unwrap_or_default(),
            low_stock: p
                .low_stock_threshold
                .map(|t| t.to_string())
                .unwrap_or_default(),
            policy: p.out_of_stock_policy.as_str().to_owned(),
            wait_seconds: p.stock_wait_seconds.to_string(),
            enabled: p.enabled,
        }
    }

    pub fn from_fields(f: &FormFields) -> ProductForm {
        let get = |k: &str| f.get(k).trim().to_owned();
        ProductForm {
            name: get("name"),
            mode: get("mode"),
            face_value: get("face_value"),
            price: get("price"),
            low_stock: get("low_stock"),
            policy: get("policy"),
            wait_seconds: get("wait_seconds"),
            enabled: matches!(get("enabled").as_str(), "1" | "on" | "true"),
        }
    }

    pub fn check(&self) -> Result<ProductFields, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("请填写商品名称。".into());
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(format!("商品名称不能超过 {NAME_MAX_CHARS} 个字符。"));
        }
        if name.chars().any(char::is_control) {
            return Err("商品名称不能包含换行等控制字符。".into());
        }
        let mode: FulfilmentMode = self
            .mode
            .parse()
            .map_err(|_| "请选择履约方式（卡密 / 人工直充 / 供应商直充）。".to_owned())?;
        let face_value_fen = yuan("面值", &self.face_value)?;
        let price_fen = yuan("单价", &self.price)?;
        common::db::products::check_price(self.enabled, price_fen)
            .map_err(|e| e.message_zh().unwrap_or_default())?;
        let low_stock_threshold = if self.low_stock.is_empty() {
            None
        } else {
            match self.low_stock.parse::<i64>() {
                Ok(n) if (0..=MAX_THRESHOLD).contains(&n) => Some(n as i32),
                _ => {
                    return Err(format!(
                        "低库存预警值必须是 0 到 {} 之间的整数（留空表示不预警），收到「{}」。",
                        MAX_THRESHOLD,
                        shown(&self.low_stock)
                    ));
                }
            }
        };
        let policy: StockPolicy = self
            .policy
            .parse()
            .map_err(|_| "请选择缺货策略（缺货立即失败 / 等待补货）。".to_owned())?;
        let stock_wait_seconds = match self.wait_seconds.parse::<i64>() {
            Ok(n) if (1..=MAX_WAIT_SECONDS).contains(&n) => n as i32,
            _ => {
                return Err(format!(
                    "等待补货时长必须是 1 到 {MAX_WAIT_SECONDS} 之间的整数秒（最长 30 天），收到「{}」。",
                    shown(&self.wait_seconds)
                ));
            }
        };
        Ok(ProductFields {
            name: name.to_owned(),
            mode,
            face_value_fen,
            price_fen,
            low_stock_threshold,
            out_of_stock_policy: policy,
            stock_wait_seconds,
            enabled: self.enabled,
        })
    }
}

/// Typed input echoed in a message: short, one line.
fn shown(v: &str) -> String {
    let s: String = v.chars().filter(|c| !c.is_control()).take(20).collect();
    if v.chars().count() > 20 {
        format!("{s}…")
    } else {
        s
    }
}

/// An optional yuan amount → fen.
fn yuan(what: &str, v: &str) -> Result<Option<i64>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let v = v.trim_start_matches(['¥', '￥']).trim();
    match Fen::from_yuan_str(v) {
        Ok(Fen(f)) if f <= MAX_FEN => Ok(Some(f)),
        Ok(_) => Err(format!("{what}不能超过 1,000,000 元。")),
        Err(_) => Err(format!(
            "{what}必须是不小于 0 的金额（元），最多两位小数，例如 10 或 9.80，收到「{}」。",
            shown(v)
        )),
    }
}

/// What changed, for the audit row: `面值: 10.00 → 9.80；…`.
pub fn changes(old: &ProductFields, new: &ProductFields) -> String {
    let money = |f: Option<i64>| {
        f.map(|f| Fen(f).to_yuan_string())
            .unwrap_or_else(|| "未设置".into())
    };
    let num = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_else(|| "未设置".into());
    let mut out = Vec::new();
    let mut diff = |label: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{label}: {a} → {b}"));
        }
    };
    diff("名称", old.name.clone(), new.name.clone());
    diff(
        "履约方式",
        old.mode.label_zh().into(),
        new.mode.label_zh().into(),
    );
    diff("面值", money(old.face_value_fen), money(new.face_value_fen));
    diff("单价", money(old.price_fen), money(new.price_fen));
    diff(
        "低库存预警",
        num(old.low_stock_threshold),
        num(new.low_stock_threshold),
    );
    diff(
        "缺货策略",
        policy_label(old.out_of_stock_policy).into(),
        policy_label(new.out_of_stock_policy).into(),
    );
    diff(
        "等待补货秒数",
        old.stock_wait_seconds.to_string(),
        new.stock_wait_seconds.to_string(),
    );
    diff(
        "状态",
        if old.enabled { "启用" } else { "停用" }.into(),
        if new.enabled { "启用" } else { "停用" }.into(),
    );
    out.join("；")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ProductForm {
        ProductForm {
            name: "Q币10元".into(),
            face_value: "10".into(),
            price: "9.80".into(),
            low_stock: "5".into(),
            ..ProductForm::blank()
        }
    }

    #[test]
    fn checks() {
        let f = form().check().unwrap();
        assert_eq!(f.face_value_fen, Some(1000));
        assert_eq!(f.price_fen, Some(980));
        assert_eq!(f.low_stock_threshold, Some(5));
        assert_eq!(f.stock_wait_seconds, 3600);
        assert_eq!(f.mode, FulfilmentMode::Card);
        let f = ProductForm {
            price: "￥12.5".into(),
            face_value: String::new(),
            low_stock: String::new(),
            ..form()
        }
        .check()
        .unwrap();
        assert_eq!(
            (f.price_fen, f.face_value_fen, f.low_stock_threshold),
            (Some(1250), None, None)
        );
        for bad in [
            ProductForm {
                name: " ".into(),
                ..form()
            },
            ProductForm {
                name: "x".repeat(129),
                ..form()
            },
            ProductForm {
                mode: "magic".into(),
                ..form()
            },
            ProductForm {
                face_value: "-1".into(),
                ..form()
            },
            ProductForm {
                face_value: "abc".into(),
                ..form()
            },
            ProductForm {
                price: "9.801".into(),
                ..form()
            },
            ProductForm {
                price: "1000000.01".into(),
                ..form()
            },
            ProductForm {
                low_stock: "-3".into(),
                ..form()
            },
            ProductForm {
                low_stock: "2.5".into(),
                ..form()
            },
            ProductForm {
                policy: "maybe".into(),
                ..form()
            },
            ProductForm {
                wait_seconds: "0".into(),
                ..form()
            },
            ProductForm {
                wait_seconds: "99999999999".into(),
                ..form()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn change_summary() {
        let a = form().check().unwrap();
        let b = ProductFields {
            price_fen: None,
            enabled: false,
            ..a.clone()
        };
        assert_eq!(changes(&a, &b), "单价: 9.80 → 未设置；状态: 启用 → 停用");
        assert_eq!(changes(&a, &a), "");
    }
}
