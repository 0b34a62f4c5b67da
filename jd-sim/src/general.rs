//! 京东通用交易 (VTP): the `beginDistill` / `findDistill` requests as JD sends them (signed
//! forms), and the check of the merchant's signed JSON answer as strictly as JD reads it
//! (jd-general.md §2–§5, §7).

use common::crypto::JdAesKey;
use common::protocol::form;
use common::protocol::jd_general::{self as proto, CardItem, ProduceCode, ProduceStatus};
use serde_json::Value;

use crate::report::Report;
use crate::secret::{mask, masked_sign_string};
use crate::wire::{Signed, answer_object, is_timestamp};
use common::protocol::jd_general::answer::json_text;

/// The gateway's path of `beginDistill` (README「端口与接口」).
pub const BEGIN_PATH: &str = "/api/jd/general/beginDistill";
/// The gateway's path of `findDistill`.
pub const FIND_PATH: &str = "/api/jd/general/findDistill";

/// What JD puts in a `beginDistill` (§4).
#[derive(Debug, Clone)]
pub struct BeginInput<'a> {
    pub jd_order_no: u64,
    pub vendor_id: &'a str,
    pub ware_no: &'a str,
    pub quantity: u32,
    /// Whole order, in fen.
    pub total_price_fen: i64,
    /// Callback base URL; the merchant calls back `notifyUrl + /produce/result`.
    pub notify_url: &'a str,
    /// Only for direct-recharge goods.
    pub produce_account: Option<&'a str>,
    pub pay_time: &'a str,
    pub timestamp: &'a str,
}

/// The unsigned `beginDistill` fields, in the order of JD's example.
pub fn begin_fields(input: &BeginInput<'_>) -> Vec<(String, String)> {
    let mut fields = vec![
        ("wareNo".to_string(), input.ware_no.to_string()),
        ("quantity".to_string(), input.quantity.to_string()),
        ("jdOrderNo".to_string(), input.jd_order_no.to_string()),
    ];
    if let Some(account) = input.produce_account.filter(|a| !a.is_empty()) {
        fields.push(("produceAccount".to_string(), account.to_string()));
    }
    fields.extend([
        ("totalPrice".to_string(), input.total_price_fen.to_string()),
        ("payTime".to_string(), input.pay_time.to_string()),
        ("notifyUrl".to_string(), input.notify_url.to_string()),
        ("vendorId".to_string(), input.vendor_id.to_string()),
        ("timestamp".to_string(), input.timestamp.to_string()),
    ]);
    fields
}

/// The unsigned `findDistill` fields (§5). JD's table lists only `jdOrderNo` and `timestamp`;
/// `vendorId` is sent when given (the gateway uses it to find the shop and its key).
pub fn find_fields(
    jd_order_no: u64,
    vendor_id: Option<&str>,
    timestamp: &str,
) -> Vec<(String, String)> {
    let mut fields = vec![("jdOrderNo".to_string(), jd_order_no.to_string())];
    if let Some(vendor) = vendor_id.filter(|v| !v.is_empty()) {
        fields.push(("vendorId".to_string(), vendor.to_string()));
    }
    fields.push(("timestamp".to_string(), timestamp.to_string()));
    fields
}

/// Signs `fields` with the MD5 key (`signType=MD5` and `sign` appended).
pub fn sign(fields: &[(String, String)], md5_key: &str) -> Signed {
    Signed {
        form: proto::sign_form(fields, md5_key),
        sign_string: masked_sign_string(&proto::sign_string(fields, md5_key), md5_key),
    }
}

/// What the answer must match.
#[derive(Debug, Clone)]
pub struct Expect {
    pub jd_order_no: u64,
    /// Cards to find on success; `None` when unknown (findDistill without `--quantity`).
    pub quantity: Option<u32>,
    /// Card goods carry `product` on success; direct-recharge goods do not.
    pub card_goods: bool,
}

/// A checked answer.
#[derive(Debug, Clone)]
pub struct Checked {
    pub report: Report,
    /// The JSON answer as received.
    pub answer: Option<Value>,
    /// `product`, decrypted.
    pub cards: Vec<CardItem>,
    pub produce_status: Option<ProduceStatus>,
}

impl Checked {
    /// JD will ask again (`produceStatus` 3).
    pub fn in_progress(&self) -> bool {
        self.produce_status == Some(ProduceStatus::InProgress)
    }
}

/// Checks a `beginDistill` / `findDistill` answer as JD does: HTTP 200 JSON, signature over
/// every field but `sign`/`signType`, the required fields, codes that exist in the spec and fit
/// `produceStatus`, the echoed `jdOrderNo`, and on success the cards (decrypted; as many as
/// ordered). A refusal (`produceStatus` 2 or 4) is reported as a problem too: the order did not
/// go through.
pub fn check_answer(
    http_status: u16,
    body: &[u8],
    expect: &Expect,
    md5_key: &str,
    aes_key: &JdAesKey,
) -> Checked {
    let mut r = Report::default();
    let mut checked = Checked {
        report: Report::default(),
        answer: None,
        cards: Vec::new(),
        produce_status: None,
    };
    let Some(map) = answer_object(&mut r, http_status, body) else {
        checked.report = r;
        return checked;
    };
    checked.answer = Some(Value::Object(map.clone()));
    let mut fields = Vec::with_capacity(map.len());
    for (name, value) in &map {
        match json_text(value) {
            Some(text) => fields.push((name.clone(), text)),
            None if value.is_null() => {}
            None => r.problem(
                "字段不是字符串或数字",
                "field is not a string or number",
                name.clone(),
            ),
        }
    }
    let text = |name: &str| form::first_value(&fields, name).filter(|v| !v.trim().is_empty());

    // Signature.
    let expected = proto::sign(&fields, md5_key);
    match text("sign") {
        None => r.problem("应答缺少 sign", "answer has no sign", ""),
        Some(got) if got.eq_ignore_ascii_case(&expected) => r.ok(format!(
            "应答签名正确 (answer signature ok, key {})",
            mask(md5_key)
        )),
        Some(got) => {
            r.problem(
                "应答签名错误",
                "answer signature mismatch",
                format!("expected {expected} got {got}"),
            );
            r.note(format!(
                "按本地密钥计算的应答签名串 (answer signing string with our key): {}",
                masked_sign_string(&proto::sign_string(&fields, md5_key), md5_key)
            ));
        }
    }
    match text("signType") {
        Some(t) if t == proto::SIGN_TYPE_MD5 => {}
        Some(t) => r.problem("signType 应为 MD5", "signType must be MD5", t.to_string()),
        None => r.problem("应答缺少 signType", "answer has no signType", ""),
    }
    match text("timestamp") {
        Some(t) if is_timestamp(t) => {}
        Some(t) => r.problem(
            "timestamp 格式应为 yyyyMMddHHmmss",
            "timestamp is not yyyyMMddHHmmss",
            t.to_string(),
        ),
        None => r.problem("应答缺少 timestamp", "answer has no timestamp", ""),
    }

    // jdOrderNo: echoed, as a number (the doc's examples).
    match map.get("jdOrderNo") {
        None => r.problem("应答缺少 jdOrderNo", "answer has no jdOrderNo", ""),
        Some(v) => {
            let echoed = json_text(v).unwrap_or_default();
            if echoed.trim() != expect.jd_order_no.to_string() {
                r.problem(
                    "jdOrderNo 与请求不符",
                    "jdOrderNo does not echo the request",
                    format!("expected {} got {echoed}", expect.jd_order_no),
                );
            } else if !v.is_number() {
                r.note("jdOrderNo 是字符串，京东示例为数字 (jdOrderNo is a string; JD's examples send a number)");
            }
        }
    }

    // code and produceStatus.
    let code = match text("code") {
        None => {
            r.problem("应答缺少 code", "answer has no code", "");
            None
        }
        Some(c) => match ProduceCode::parse(c) {
            Some(code) => Some(code),
            None => {
                r.problem(
                    "code 不是规范中的取值",
                    "code is not one of the spec's JDO_ codes",
                    c.to_string(),
                );
                None
            }
        },
    };
    let status = match text("produceStatus") {
        None => {
            r.problem("应答缺少 produceStatus", "answer has no produceStatus", "");
            None
        }
        Some(s) => match s
            .trim()
            .parse::<u8>()
            .ok()
            .and_then(ProduceStatus::from_code)
        {
            Some(status) => {
                if map.get("produceStatus").is_some_and(Value::is_string) {
                    r.note("produceStatus 是字符串，规范为整数 (produceStatus is a string; the spec says Integer)");
                }
                Some(status)
            }
            None => {
                r.problem(
                    "produceStatus 应为 1、2、3 或 4",
                    "produceStatus must be 1, 2, 3 or 4",
                    s.to_string(),
                );
                None
            }
        },
    };
    checked.produce_status = status;
    if let (Some(code), Some(status)) = (code, status) {
        let fits = match status {
            ProduceStatus::Success => code == ProduceCode::Success,
            ProduceStatus::InProgress => code == ProduceCode::InProgress,
            ProduceStatus::Failed | ProduceStatus::Exception => {
                !matches!(code, ProduceCode::Success | ProduceCode::InProgress)
            }
        };
        if !fits {
            r.problem(
                "code 与 produceStatus 不匹配",
                "code does not fit produceStatus",
                format!("{} with produceStatus {}", code.as_str(), status.code()),
            );
        }
        let meaning = format!("{} {}", code.as_str(), code.label_zh());
        match status {
            ProduceStatus::Success => r.ok(format!("生产成功 (produced): {meaning}")),
            ProduceStatus::InProgress => r.ok(format!(
                "生产中 (in progress): {meaning}；商户须回调结果并支持 findDistill (the merchant must call back and answer findDistill)"
            )),
            ProduceStatus::Failed => r.problem(
                "生产失败，京东将给买家退款",
                "production failed, JD refunds the buyer",
                meaning,
            ),
            ProduceStatus::Exception => r.problem(
                "生产异常，京东暂停该单",
                "production exception, JD pauses the order",
                meaning,
            ),
        }
    }
    if matches!(
        status,
        Some(ProduceStatus::Success | ProduceStatus::InProgress)
    ) && text("agentOrderNo").is_none()
    {
        r.problem("应答缺少 agentOrderNo", "answer has no agentOrderNo", "");
    }

    // Cards.
    let product = text("product");
    match (status, product) {
        (Some(ProduceStatus::Success), Some(product)) => {
            match proto::decrypt_cards(product, aes_key) {
                Ok(cards) => {
                    r.ok(format!(
                        "product 已用 AES-256-ECB 解密 (product decrypted): {} 张卡密 (cards)",
                        cards.len()
                    ));
                    check_cards(&mut r, &cards, expect.quantity);
                    checked.cards = cards;
                }
                Err(e) => r.problem("product 无法解密", "cannot decrypt product", e.to_string()),
            }
        }
        (Some(ProduceStatus::Success), None) if expect.card_goods => r.problem(
            "生产成功但没有 product（卡密商品必须带卡密）",
            "success without product (card goods must carry the cards)",
            "",
        ),
        (Some(ProduceStatus::Success), None) => {
            r.ok("直充商品成功，无 product (direct recharge: no product)")
        }
        (Some(_), Some(_)) => r.note(
            "非成功状态带了 product，京东不读取 (product on a non-success answer is ignored)",
        ),
        _ => {}
    }
    checked.report = r;
    checked
}

/// JD's checks on delivered cards: as many as ordered, number and password present and within
/// 127 characters.
pub fn check_cards(r: &mut Report, cards: &[CardItem], quantity: Option<u32>) {
    match quantity {
        Some(q) if usize::try_from(q).ok() == Some(cards.len()) => r.ok(format!(
            "卡密数量等于 quantity (card count = quantity = {q})"
        )),
        Some(q) => r.problem(
            "卡密数量与 quantity 不符",
            "card count differs from quantity",
            format!("expected {q} got {}", cards.len()),
        ),
        None => r.note("未给出 --quantity，未核对卡密数量 (no --quantity: card count not checked)"),
    }
    for (i, card) in cards.iter().enumerate() {
        if card.card_number.trim().is_empty() || card.password.trim().is_empty() {
            r.problem(
                "卡密缺少 cardNumber 或 password（无值时应为 \"-\"）",
                "card without cardNumber or password (\"-\" when none)",
                format!("card #{}", i + 1),
            );
        }
        if !card.within_jd_limits() {
            r.problem(
                "卡号或密码超过 127 个字符",
                "cardNumber or password longer than 127 characters",
                format!("card #{}", i + 1),
            );
        }
    }
}

/// One line per card: `cardNumber / password / expiryDate`, in clear text (the merchant needs
/// to see what JD would show the buyer).
pub fn render_cards(cards: &[CardItem]) -> String {
    let mut out = String::new();
    for (i, c) in cards.iter().enumerate() {
        out.push_str(&format!(
            "  #{} cardNumber={} password={} expiryDate={}{}\n",
            i + 1,
            c.card_number,
            c.password,
            c.expiry_date,
            c.limit_times
                .map(|n| format!(" limitTimes={n}"))
                .unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::domain::PlatformOrderNo;
    use common::protocol::jd_general::DistillAnswer;
    use common::protocol::vectors::general::{
        A1_CIPHER, A2_CIPHER, K, S1_FIELDS, S1_SIGN, S1_SIGN_STRING, S3_FIELDS, S3_SIGN,
        S5_ANSWER_BODY, S6_SIGN,
    };

    fn aes() -> JdAesKey {
        JdAesKey::new(K).expect("key")
    }

    fn value(fields: &[(String, String)], name: &str) -> String {
        form::first_value(fields, name)
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn begin_distill_reproduces_s1() {
        let input = BeginInput {
            jd_order_no: 10001,
            vendor_id: "1201",
            ware_no: "45001",
            quantity: 1,
            total_price_fen: 10000,
            notify_url: "http://vtp.jd.com/notify",
            produce_account: Some("13333333333"),
            pay_time: "20210208101218",
            timestamp: "20210208101217",
        };
        let fields = begin_fields(&input);
        let mut expected: Vec<(String, String)> = S1_FIELDS
            .iter()
            .filter(|(k, _)| *k != "signType")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expected.sort();
        let mut sorted = fields.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
        let signed = sign(&fields, K);
        assert_eq!(value(&signed.form, "sign"), S1_SIGN);
        assert_eq!(value(&signed.form, "signType"), "MD5");
        // The signing string is JD's, with the key masked.
        let head = S1_SIGN_STRING.strip_suffix(K).expect("ends with key");
        assert_eq!(signed.sign_string, format!("{head}{}", mask(K)));
        assert!(!signed.sign_string.contains(K));

        // Card goods: no produceAccount at all.
        let card = BeginInput {
            produce_account: None,
            ..input
        };
        assert!(form::first_value(&begin_fields(&card), "produceAccount").is_none());
    }

    #[test]
    fn find_distill_reproduces_s3() {
        let fields = find_fields(10001, None, "20210207170426");
        let expected: Vec<(String, String)> = S3_FIELDS
            .iter()
            .filter(|(k, _)| *k != "signType")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(fields, expected);
        assert_eq!(value(&sign(&fields, K).form, "sign"), S3_SIGN);
        let with_vendor = find_fields(10001, Some("1201"), "20210207170426");
        assert_eq!(value(&with_vendor, "vendorId"), "1201");
    }

    fn expect(quantity: Option<u32>) -> Expect {
        Expect {
            jd_order_no: 10002,
            quantity,
            card_goods: true,
        }
    }

    #[test]
    fn s5_in_progress_answer_is_valid() {
        let c = check_answer(200, S5_ANSWER_BODY.as_bytes(), &expect(Some(1)), K, &aes());
        assert!(c.report.is_valid(), "{}", c.report.render());
        assert!(c.in_progress());
        assert!(c.report.render().contains("生产中"));
    }

    #[test]
    fn s6_success_answer_decrypts_the_cards() {
        let body = DistillAnswer::success(
            PlatformOrderNo::from_long(10002),
            "SP00001",
            Some(A2_CIPHER.into()),
        )
        .encode(K, "20210208110742");
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["sign"], S6_SIGN);
        let c = check_answer(200, &body, &expect(Some(1)), K, &aes());
        assert!(c.report.is_valid(), "{}", c.report.render());
        assert_eq!(c.cards.len(), 1);
        assert_eq!(c.cards[0].card_number, "CARD0001");
        assert!(render_cards(&c.cards).contains("cardNumber=CARD0001 password=PWD-0001"));

        // The count must equal quantity.
        let c = check_answer(200, &body, &expect(Some(2)), K, &aes());
        assert!(!c.report.is_valid());
        assert!(
            c.report.render().contains(
                "卡密数量与 quantity 不符 (card count differs from quantity): expected 2 got 1"
            ),
            "{}",
            c.report.render()
        );
    }

    #[test]
    fn a_wrong_key_is_a_plain_signature_error() {
        let other = "12345678901234567890123456789013";
        let c = check_answer(200, S5_ANSWER_BODY.as_bytes(), &expect(None), other, &aes());
        assert!(!c.report.is_valid());
        let text = c.report.render();
        assert!(
            text.contains("✗ 应答签名错误 (answer signature mismatch): expected ")
                && text.contains(" got d24c4c18996e167c8a3d9ca000efac9c"),
            "{text}"
        );
        assert!(!text.contains(other), "the key is masked");
    }

    #[test]
    fn refusals_and_broken_answers_are_problems() {
        let refused = DistillAnswer::with_code(
            PlatformOrderNo::from_long(10002),
            None,
            ProduceCode::NoSuchProduct,
        )
        .encode(K, "20210208110742");
        let c = check_answer(200, &refused, &expect(Some(1)), K, &aes());
        assert!(c.report.render().contains("生产失败，京东将给买家退款"));
        assert!(!c.report.is_valid());

        // Success without cards for card goods; an unknown code; a wrong echo.
        let mut fields = vec![
            ("agentOrderNo".to_string(), "A1".to_string()),
            ("code".to_string(), "JDO_200".to_string()),
            ("jdOrderNo".to_string(), "10003".to_string()),
            ("produceStatus".to_string(), "1".to_string()),
            ("timestamp".to_string(), "20210208110742".to_string()),
        ];
        let sign = proto::sign(&fields, K);
        fields.push(("sign".into(), sign));
        let mut json = serde_json::Map::new();
        for (k, v) in &fields {
            json.insert(k.clone(), Value::String(v.clone()));
        }
        json.insert("signType".into(), "MD5".into());
        let body = serde_json::to_vec(&json).unwrap();
        let text = check_answer(200, &body, &expect(Some(1)), K, &aes())
            .report
            .render();
        assert!(text.contains("jdOrderNo 与请求不符"), "{text}");
        assert!(text.contains("生产成功但没有 product"), "{text}");
        assert!(text.contains("produceStatus 是字符串"), "{text}");

        let c = check_answer(502, b"<html>bad gateway</html>", &expect(None), K, &aes());
        let text = c.report.render();
        assert!(text.contains("HTTP 状态不是 200") && text.contains("应答不是 JSON 对象"));

        // A1 (two cards) decrypts with the doc's key.
        assert_eq!(proto::decrypt_cards(A1_CIPHER, &aes()).unwrap().len(), 2);
    }
}
