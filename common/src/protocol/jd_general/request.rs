//! `beginDistill` and `findDistill` as JD sends them (§4, §5): typed requests read from the
//! decoded form, and the refusal (with its JDO code) for one that cannot be read.

use super::codes::{ProduceCode, ProduceStatus};
use super::signing::{SIGN_TYPE_MD5, verify_sign};
use crate::domain::PlatformOrderNo;
use crate::domain::money::Fen;
use crate::protocol::form;

/// A request JD sent that we must refuse, with the code to answer it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {reason}")]
pub struct RequestError {
    pub code: ProduceCode,
    /// Operator-facing reason (Chinese).
    pub reason: String,
    /// The request's `jdOrderNo` when it could be read, to echo in the answer.
    pub jd_order_no: Option<PlatformOrderNo>,
}

impl RequestError {
    pub(super) fn invalid(reason: String, jd_order_no: Option<PlatformOrderNo>) -> RequestError {
        RequestError {
            code: ProduceCode::InvalidParams,
            reason,
            jd_order_no,
        }
    }

    /// `produceStatus` paired with the code (§7.2).
    pub fn produce_status(&self) -> ProduceStatus {
        self.code.suggested_status()
    }
}

/// A non-negative decimal `Long`: ASCII digits only (no sign, no spaces), fitting `i64`.
pub(super) fn parse_long(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A `jdOrderNo` as JD sends it: a non-negative `Long` ([`parse_long`]), parsed once here.
pub(super) fn parse_order_no(text: &str) -> Option<PlatformOrderNo> {
    parse_long(text)
        .and_then(|n| u64::try_from(n).ok())
        .map(PlatformOrderNo::from_long)
}

/// Field access over a received form with the JDO_303 errors the spec asks for.
pub(super) struct FieldReader<'a> {
    fields: &'a [(String, String)],
    /// Read first, so every later error can echo it.
    pub(super) jd_order_no: PlatformOrderNo,
}

impl<'a> FieldReader<'a> {
    /// Rejects duplicated names and unsupported `signType`, and reads `jdOrderNo` first so every
    /// later error can echo it.
    pub(super) fn new(fields: &'a [(String, String)]) -> Result<FieldReader<'a>, RequestError> {
        if let Some(name) = form::duplicated_name(fields) {
            return Err(RequestError::invalid(format!("参数 {name} 重复"), None));
        }
        let raw_order_no = form::first_value(fields, "jdOrderNo")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| RequestError::invalid("缺少参数 jdOrderNo".to_string(), None))?;
        let reader = FieldReader {
            fields,
            jd_order_no: parse_order_no(raw_order_no).ok_or_else(|| {
                RequestError::invalid(
                    "参数 jdOrderNo 不是有效的订单号（应为数字）".to_string(),
                    None,
                )
            })?,
        };
        if reader.optional("sign").is_none() {
            return Err(RequestError {
                code: ProduceCode::SignatureFailed,
                reason: "缺少签名参数 sign".to_string(),
                jd_order_no: reader.echo(),
            });
        }
        // A missing signType is tolerated (it is not signed); any value other than MD5 cannot be
        // verified, which is a signature failure (status 4), not a refundable refusal [INFERRED].
        let unsupported_sign_type = reader
            .optional("signType")
            .filter(|t| !t.trim().eq_ignore_ascii_case(SIGN_TYPE_MD5));
        if let Some(sign_type) = unsupported_sign_type {
            return Err(RequestError {
                code: ProduceCode::SignatureFailed,
                reason: format!("不支持的签名类型 signType={sign_type}，仅支持 MD5"),
                jd_order_no: reader.echo(),
            });
        }
        Ok(reader)
    }

    /// The order number to echo in an error.
    pub(super) fn echo(&self) -> Option<PlatformOrderNo> {
        Some(self.jd_order_no.clone())
    }

    pub(super) fn optional(&self, name: &str) -> Option<&'a str> {
        form::first_value(self.fields, name).filter(|v| !v.is_empty())
    }

    pub(super) fn required(&self, name: &str) -> Result<&'a str, RequestError> {
        self.optional(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| RequestError::invalid(format!("缺少参数 {name}"), self.echo()))
    }

    pub(super) fn required_long(&self, name: &str) -> Result<i64, RequestError> {
        let raw = self.required(name)?;
        parse_long(raw)
            .ok_or_else(|| RequestError::invalid(format!("参数 {name} 应为非负整数"), self.echo()))
    }
}

/// `beginDistill` (提交充值 / 提取卡密) as JD sends it (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginDistillRequest {
    pub jd_order_no: PlatformOrderNo,
    /// Identifies the shop: merchant id (POP) or shop id (自营; 0 when there is no shop).
    pub vendor_id: i64,
    /// Our product code (when JD maps it) or the JD SKU id.
    pub ware_no: String,
    pub quantity: u32,
    pub total_price: Fen,
    pub pay_time: String,
    /// Callback base URL; see [`super::callback::callback_url`]. `None` only from [`Self::parse_for`] with
    /// `require_notify_url = false` when the field is missing or not an http(s) address.
    pub notify_url: Option<String>,
    /// Account to recharge; absent for card goods.
    pub produce_account: Option<String>,
    /// Encrypted extra attributes as received; see [`super::expand::decrypt_expand`].
    pub expand: Option<String>,
    pub timestamp: String,
    pub sign: String,
    /// Every received field, for [`BeginDistillRequest::verify_signature`].
    pub fields: Vec<(String, String)>,
}

impl BeginDistillRequest {
    /// Reads the decoded form. Errors carry the JDO code to answer with.
    pub fn parse(fields: &[(String, String)]) -> Result<BeginDistillRequest, RequestError> {
        Self::parse_for(fields, true)
    }

    /// [`Self::parse`]; with `require_notify_url = false` (a test-mode shop, whose callbacks go
    /// to the self-test platform) a missing or odd `notifyUrl` is no reason to refuse the order:
    /// it is read as `None`.
    pub fn parse_for(
        fields: &[(String, String)],
        require_notify_url: bool,
    ) -> Result<BeginDistillRequest, RequestError> {
        let r = FieldReader::new(fields)?;
        let jd_order_no = r.jd_order_no.clone();
        let vendor_id = r.required_long("vendorId")?;
        let ware_no = r.required("wareNo")?.trim().to_string();
        let quantity = r.required_long("quantity")?;
        let quantity = u32::try_from(quantity)
            .ok()
            .filter(|q| *q >= 1)
            .ok_or_else(|| {
                RequestError::invalid("参数 quantity 应为不小于 1 的整数".to_string(), r.echo())
            })?;
        let total_price = Fen(r.required_long("totalPrice")?);
        let pay_time = r.required("payTime")?.to_string();
        let notify_url = match r.required("notifyUrl") {
            Ok(url) => {
                if let Ok(url) = crate::domain::http_url(url) {
                    Some(url.to_string())
                } else if require_notify_url {
                    return Err(RequestError::invalid(
                        "参数 notifyUrl 不是 http(s) 地址".to_string(),
                        r.echo(),
                    ));
                } else {
                    None
                }
            }
            Err(e) if require_notify_url => return Err(e),
            Err(_) => None,
        };
        Ok(BeginDistillRequest {
            jd_order_no,
            vendor_id,
            ware_no,
            quantity,
            total_price,
            pay_time,
            notify_url,
            produce_account: r.optional("produceAccount").map(str::to_string),
            expand: r.optional("expand").map(str::to_string),
            timestamp: r.required("timestamp")?.to_string(),
            sign: r.required("sign")?.to_string(),
            fields: fields.to_vec(),
        })
    }

    /// Verifies `sign` over all received fields (not a fixed list, so optional ones are covered).
    pub fn verify_signature(&self, md5_key: &str) -> bool {
        verify_sign(&self.fields, md5_key, &self.sign)
    }
}

/// `findDistill` (生产反查) as JD sends it (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindDistillRequest {
    pub jd_order_no: PlatformOrderNo,
    /// Not documented for findDistill, but accepted when JD sends it [INFERRED].
    pub vendor_id: Option<i64>,
    pub timestamp: String,
    pub sign: String,
    pub fields: Vec<(String, String)>,
}

impl FindDistillRequest {
    pub fn parse(fields: &[(String, String)]) -> Result<FindDistillRequest, RequestError> {
        let r = FieldReader::new(fields)?;
        let vendor_id = match r.optional("vendorId") {
            Some(_) => Some(r.required_long("vendorId")?),
            None => None,
        };
        Ok(FindDistillRequest {
            jd_order_no: r.jd_order_no.clone(),
            vendor_id,
            timestamp: r.required("timestamp")?.to_string(),
            sign: r.required("sign")?.to_string(),
            fields: fields.to_vec(),
        })
    }

    pub fn verify_signature(&self, md5_key: &str) -> bool {
        verify_sign(&self.fields, md5_key, &self.sign)
    }
}

/// The `vendorId` of a received form, if readable: identifies the shop (and so the keys) before
/// the signature can be checked.
pub fn peek_vendor_id<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Option<i64> {
    form::first_value(fields, "vendorId").and_then(parse_long)
}

/// The `jdOrderNo` of a form that may not be readable (or not yet verified), to echo in a
/// refusal: any decimal number that is not negative, surrounding spaces ignored. More lenient
/// than the request's own reading ([`parse_long`]): an echo only helps JD match the answer.
pub fn peek_jd_order_no<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
) -> Option<PlatformOrderNo> {
    let no = form::first_value(fields, "jdOrderNo")?
        .trim()
        .parse::<i64>()
        .ok()?;
    u64::try_from(no).ok().map(PlatformOrderNo::from_long)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jd_general::answer::DistillAnswer;
    use crate::protocol::jd_general::signing::{
        sign, sign_form, sign_string, verify_signed_fields,
    };
    use crate::protocol::vectors::general::{
        K, S1_FIELDS, S1_SIGN, S3_FIELDS, S3_SIGN, S4_FIELDS, S4_SIGN, s1_form,
    };
    use crate::protocol::vectors::pairs;

    #[test]
    fn s1_parses_into_a_typed_request_and_verifies() {
        let body = form::encode_form(&s1_form());
        let req = BeginDistillRequest::parse(&form::parse_form(body.as_bytes())).expect("valid");
        assert_eq!(req.jd_order_no.as_str(), "10001");
        assert_eq!(req.vendor_id, 1201);
        assert_eq!(req.ware_no, "45001");
        assert_eq!(req.quantity, 1);
        assert_eq!(req.total_price, Fen(10000));
        assert_eq!(req.pay_time, "20210208101218");
        assert_eq!(req.notify_url.as_deref(), Some("http://vtp.jd.com/notify"));
        assert_eq!(req.produce_account.as_deref(), Some("13333333333"));
        assert_eq!(req.expand, None);
        assert_eq!(req.timestamp, "20210208101217");
        assert!(req.verify_signature(K));
        assert!(!req.verify_signature("12345678901234567890123456789013"));
        assert_eq!(peek_vendor_id(&req.fields), Some(1201));
    }

    #[test]
    fn uppercase_sign_is_accepted_and_wrong_sign_rejected() {
        let mut f = pairs(S1_FIELDS);
        f.push(("sign".into(), S1_SIGN.to_uppercase()));
        let req = BeginDistillRequest::parse(&f).expect("valid");
        assert!(req.verify_signature(K));

        let mut f = pairs(S1_FIELDS);
        f.push(("sign".into(), "10c1c32a49e2a520ef59ca97cefc73f8".into()));
        assert!(
            !BeginDistillRequest::parse(&f)
                .expect("valid")
                .verify_signature(K)
        );

        // A tampered value breaks the signature.
        let mut f = s1_form();
        f[4].1 = "1".into(); // totalPrice
        assert!(
            !BeginDistillRequest::parse(&f)
                .expect("valid")
                .verify_signature(K)
        );
        // Unknown extra fields are signed too.
        let mut f = s1_form();
        f.push(("expand".into(), "abc".into()));
        assert!(!verify_signed_fields(&f, K));
    }

    #[test]
    fn an_unverified_order_number_is_peeked_leniently() {
        let peek = |v: &str| peek_jd_order_no(&pairs(&[("jdOrderNo", v)]));
        assert_eq!(peek("10001"), Some(PlatformOrderNo::from_long(10001)));
        assert_eq!(peek(" +010001 "), Some(PlatformOrderNo::from_long(10001)));
        assert_eq!(peek("-5"), None);
        assert_eq!(peek("10001a"), None);
        assert_eq!(peek_jd_order_no(&pairs(&[("vendorId", "1")])), None);
    }

    #[test]
    fn s3_find_distill_request() {
        let mut fields = pairs(S3_FIELDS);
        fields.push(("sign".into(), S3_SIGN.into()));
        assert_eq!(
            sign_string(&fields, K),
            format!("jdOrderNo10001timestamp20210207170426{K}")
        );
        assert_eq!(sign(&fields, K), S3_SIGN);
        let req = FindDistillRequest::parse(&fields).expect("valid");
        assert_eq!(req.jd_order_no.as_str(), "10001");
        assert_eq!(req.vendor_id, None);
        assert!(req.verify_signature(K));

        let mut with_vendor = fields.clone();
        with_vendor.push(("vendorId".into(), "1201".into()));
        let req = FindDistillRequest::parse(&with_vendor).expect("valid");
        assert_eq!(req.vendor_id, Some(1201));
        assert!(!req.verify_signature(K), "vendorId is signed when present");
    }

    #[test]
    fn s4_empty_fields_are_dropped() {
        let with_empty = pairs(S4_FIELDS);
        let without: Vec<(String, String)> = with_empty
            .iter()
            .filter(|(k, _)| k != "produceAccount")
            .cloned()
            .collect();
        assert_eq!(
            sign_string(&with_empty, K),
            format!(
                "jdOrderNo10002notifyUrlhttps://vtpnotify.jd.com/vtppayTime20210208101218quantity2timestamp20210208101217totalPrice20000vendorId1201wareNo45001{K}"
            )
        );
        assert_eq!(sign(&with_empty, K), S4_SIGN);
        assert_eq!(sign(&without, K), S4_SIGN);
        let mut signed = with_empty.clone();
        signed.push(("sign".into(), S4_SIGN.into()));
        let req = BeginDistillRequest::parse(&signed).expect("valid");
        assert_eq!(req.produce_account, None);
        assert_eq!(req.quantity, 2);
        assert!(req.verify_signature(K));
    }

    #[test]
    fn zero_is_a_value_and_is_signed() {
        let a = pairs(&[("jdOrderNo", "1"), ("vendorId", "0")]);
        assert_eq!(sign_string(&a, "k"), "jdOrderNo1vendorId0k");
        let req_fields = pairs(&[
            ("jdOrderNo", "10003"),
            ("vendorId", "0"),
            ("wareNo", "1"),
            ("quantity", "1"),
            ("totalPrice", "0"),
            ("payTime", "20210208101218"),
            ("notifyUrl", "https://vtpnotify.jd.com/vtp"),
            ("timestamp", "20210208101217"),
        ]);
        let req = BeginDistillRequest::parse(&sign_form(&req_fields, K)).expect("valid");
        assert_eq!(req.vendor_id, 0);
        assert_eq!(req.total_price, Fen(0));
        assert!(req.verify_signature(K));
    }

    #[test]
    fn missing_and_invalid_fields_answer_jdo_303() {
        let without = |name: &str| -> Vec<(String, String)> {
            s1_form().into_iter().filter(|(k, _)| k != name).collect()
        };
        for name in [
            "wareNo",
            "quantity",
            "totalPrice",
            "payTime",
            "notifyUrl",
            "vendorId",
            "timestamp",
        ] {
            let err = BeginDistillRequest::parse(&without(name)).unwrap_err();
            assert_eq!(err.code, ProduceCode::InvalidParams, "{name}");
            assert_eq!(err.produce_status(), ProduceStatus::Failed);
            assert_eq!(
                err.jd_order_no.as_ref().map(PlatformOrderNo::as_str),
                Some("10001"),
                "{name}"
            );
            assert!(err.reason.contains(name), "{}", err.reason);
        }
        let err = BeginDistillRequest::parse(&without("jdOrderNo")).unwrap_err();
        assert_eq!(err.code, ProduceCode::InvalidParams);
        assert_eq!(err.jd_order_no, None);

        let with = |name: &str, value: &str| -> Vec<(String, String)> {
            s1_form()
                .into_iter()
                .map(|(k, v)| {
                    if k == name {
                        (k, value.to_string())
                    } else {
                        (k, v)
                    }
                })
                .collect()
        };
        for (name, value) in [
            ("jdOrderNo", "10001a"),
            ("jdOrderNo", "-10001"),
            ("jdOrderNo", " 10001"),
            ("jdOrderNo", "99999999999999999999"),
            ("quantity", "0"),
            ("quantity", "1.5"),
            ("quantity", "99999999999"),
            ("totalPrice", "-1"),
            ("totalPrice", "100.00"),
            ("vendorId", "abc"),
            ("notifyUrl", "ftp://x"),
        ] {
            let err = BeginDistillRequest::parse(&with(name, value)).unwrap_err();
            assert_eq!(err.code, ProduceCode::InvalidParams, "{name}={value}");
        }
        let err = BeginDistillRequest::parse(&with("jdOrderNo", "abc")).unwrap_err();
        assert_eq!(err.jd_order_no, None);
        let answer = DistillAnswer::rejected(&err);
        let body = String::from_utf8(answer.encode(K, "20210208110841")).expect("utf8");
        assert!(!body.contains("jdOrderNo"));
        assert!(body.contains(r#""code":"JDO_303","produceStatus":2"#));

        let mut dup = s1_form();
        dup.push(("jdOrderNo".into(), "10009".into()));
        assert_eq!(
            BeginDistillRequest::parse(&dup).unwrap_err().code,
            ProduceCode::InvalidParams
        );
    }

    #[test]
    fn signature_problems_answer_jdo_304_with_status_4() {
        let no_sign: Vec<(String, String)> = pairs(S1_FIELDS);
        let err = BeginDistillRequest::parse(&no_sign).unwrap_err();
        assert_eq!(err.code, ProduceCode::SignatureFailed);
        assert_eq!(err.produce_status(), ProduceStatus::Exception);
        assert!(!verify_signed_fields(&no_sign, K));

        let mut dsa = s1_form();
        dsa[8].1 = "DSA".into();
        let err = BeginDistillRequest::parse(&dsa).unwrap_err();
        assert_eq!(err.code, ProduceCode::SignatureFailed);
        // signType is optional and case-insensitive.
        let mut lower = s1_form();
        lower[8].1 = "md5".into();
        assert!(BeginDistillRequest::parse(&lower).is_ok());
        let no_type: Vec<(String, String)> = s1_form()
            .into_iter()
            .filter(|(k, _)| k != "signType")
            .collect();
        assert!(
            BeginDistillRequest::parse(&no_type)
                .expect("valid")
                .verify_signature(K)
        );
    }

    #[test]
    fn a_test_mode_shop_does_not_need_a_notify_url() {
        let without: Vec<(String, String)> = s1_form()
            .into_iter()
            .filter(|(k, _)| k != "notifyUrl")
            .collect();
        assert!(BeginDistillRequest::parse(&without).is_err());
        let req = BeginDistillRequest::parse_for(&without, false).expect("lenient");
        assert_eq!(req.notify_url, None);
        let odd: Vec<(String, String)> = s1_form()
            .into_iter()
            .map(|(k, v)| {
                if k == "notifyUrl" {
                    (k, "vtp.jd.com".into())
                } else {
                    (k, v)
                }
            })
            .collect();
        assert!(BeginDistillRequest::parse(&odd).is_err());
        assert_eq!(
            BeginDistillRequest::parse_for(&odd, false)
                .unwrap()
                .notify_url,
            None
        );
        assert_eq!(
            BeginDistillRequest::parse_for(&s1_form(), false)
                .unwrap()
                .notify_url
                .as_deref(),
            Some("http://vtp.jd.com/notify")
        );
    }
}
