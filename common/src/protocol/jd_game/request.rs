//! The calls JD makes (§5), typed, read from the `data` of verified [`GameParams`].

use serde_json::{Map, Value};

use super::codes::GameError;
use super::data::IdName;
use super::params::GameParams;
use crate::domain::PlatformOrderNo;
use crate::domain::money::Fen;

/// preCheck (提单校验, §5.1): can this product be sold? No orderId.
#[derive(Debug, Clone, PartialEq)]
pub struct PreCheckRequest {
    pub customer_id: String,
    pub sku_id: String,
    pub buy_num: u32,
    /// Merchant receivable in fen, from yuan.
    pub total_price: Fen,
    pub brand_id: Option<String>,
    pub pin: Option<String>,
    pub user_ip: Option<String>,
    pub game_account: Option<String>,
    pub permit: Option<String>,
    pub game_account_type: Option<IdName>,
    pub charge_type: Option<IdName>,
    pub game_area: Option<IdName>,
    pub game_server: Option<IdName>,
    pub features: Option<Map<String, Value>>,
}

impl PreCheckRequest {
    /// Reads the decoded `data`. Fields the doc marks required but we do not need (pin, brandId,
    /// userIp) are optional here: refusing a sellable order over them would cost a sale.
    pub fn from_params(params: &GameParams) -> Result<PreCheckRequest, GameError> {
        let d = params.data_fields()?;
        Ok(PreCheckRequest {
            customer_id: params.customer_id.clone(),
            sku_id: d.required_text("skuId")?.trim().to_string(),
            buy_num: d.required_count("buyNum")?,
            total_price: d.required_yuan("totalPrice")?,
            brand_id: d.text("brandId"),
            pin: d.text("pin"),
            user_ip: d.text("userIp"),
            game_account: d.text("gameAccount"),
            permit: d.text("permit"),
            game_account_type: d.id_name("gameAccountType"),
            charge_type: d.id_name("chargeType"),
            game_area: d.id_name("gameArea"),
            game_server: d.id_name("gameServer"),
            features: d.object("features"),
        })
    }
}

/// directCharge (直充接单, §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectChargeRequest {
    pub customer_id: String,
    pub order_id: PlatformOrderNo,
    pub sku_id: String,
    pub buy_num: u32,
    pub total_price: Fen,
    /// The account to top up.
    pub game_account: String,
    pub brand_id: Option<String>,
    pub pin: Option<String>,
    pub user_ip: Option<String>,
    /// JD-bean amount used, as sent.
    pub jing_bean: Option<String>,
    /// Coupon amount used, as sent.
    pub coupons: Option<String>,
    pub permit: Option<String>,
    pub game_account_type: Option<IdName>,
    pub charge_type: Option<IdName>,
    pub game_area: Option<IdName>,
    pub game_server: Option<IdName>,
    pub address: Option<Map<String, Value>>,
    /// `type = 1`: gift-rights (赠品权益) top-up; `rights` then lists them.
    pub rights_top_up: bool,
    pub rights: Option<Vec<Value>>,
    pub features: Option<Map<String, Value>>,
    /// The merchant's own product code as entered in JD.
    pub out_id: Option<String>,
    pub promotion_price: Option<String>,
}

impl DirectChargeRequest {
    pub fn from_params(params: &GameParams) -> Result<DirectChargeRequest, GameError> {
        let d = params.data_fields()?;
        let rights_top_up = match d.long("type")? {
            None | Some(0) => false,
            Some(1) => true,
            Some(_) => {
                return Err(GameError::InvalidField {
                    field: "type",
                    why: "应为 0 或 1".to_string(),
                });
            }
        };
        let rights = d.array("rights");
        if rights_top_up && first_rights_id(rights.as_deref()).is_none() {
            return Err(GameError::InvalidField {
                field: "rights",
                why: "type=1（权益充值）时必须提供 rights 及其 rightsId".to_string(),
            });
        }
        Ok(DirectChargeRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_order_no("orderId")?,
            sku_id: d.required_text("skuId")?.trim().to_string(),
            buy_num: d.required_count("buyNum")?,
            total_price: d.required_yuan("totalPrice")?,
            game_account: d.required_text("gameAccount")?,
            brand_id: d.text("brandId"),
            pin: d.text("pin"),
            user_ip: d.text("userIp"),
            jing_bean: d.text("jingBean"),
            coupons: d.text("coupons"),
            permit: d.text("permit"),
            game_account_type: d.id_name("gameAccountType"),
            charge_type: d.id_name("chargeType"),
            game_area: d.id_name("gameArea"),
            game_server: d.id_name("gameServer"),
            address: d.object("address"),
            rights_top_up,
            rights,
            features: d.object("features"),
            out_id: d.text("outId"),
            promotion_price: d.text("promotionPrice"),
        })
    }
}

impl DirectChargeRequest {
    /// For a gift-rights top-up (`type=1`): the rights order id that directQuery and the
    /// callback echo as `rightsId` (the first `rights` item's; JD sends one), and the `rights`
    /// array as JSON text. `None` for a normal top-up.
    pub fn rights_top_up(&self) -> Option<(String, String)> {
        if !self.rights_top_up {
            return None;
        }
        let id = first_rights_id(self.rights.as_deref())?;
        let json = serde_json::to_string(self.rights.as_deref().unwrap_or_default()).ok()?;
        Some((id, json))
    }
}

/// The first `rights` item's `rightsId` (a Long, sent as a number or a string), as text.
fn first_rights_id(rights: Option<&[Value]>) -> Option<String> {
    let id = match rights?.first()?.get("rightsId")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 64).then_some(id)
}

/// directQuery (直充订单查询, §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectQueryRequest {
    pub customer_id: String,
    pub order_id: PlatformOrderNo,
}

impl DirectQueryRequest {
    pub fn from_params(params: &GameParams) -> Result<DirectQueryRequest, GameError> {
        let d = params.data_fields()?;
        Ok(DirectQueryRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_order_no("orderId")?,
        })
    }
}

/// cardOrder (卡密接单, §5.4).
#[derive(Debug, Clone, PartialEq)]
pub struct CardOrderRequest {
    pub customer_id: String,
    pub order_id: PlatformOrderNo,
    pub sku_id: String,
    /// Number of cards to deliver, all in one reply or callback.
    pub buy_num: u32,
    pub total_price: Fen,
    pub brand_id: Option<String>,
    pub pin: Option<String>,
    /// Face value, as sent.
    pub face_price: Option<String>,
    /// 0 main site, 1 惊喜 (required by the doc; tolerated when absent).
    pub source_type: Option<i64>,
    pub features: Option<Map<String, Value>>,
    pub user_ip: Option<String>,
    pub out_id: Option<String>,
    pub token_id: Option<String>,
}

impl CardOrderRequest {
    pub fn from_params(params: &GameParams) -> Result<CardOrderRequest, GameError> {
        let d = params.data_fields()?;
        Ok(CardOrderRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_order_no("orderId")?,
            sku_id: d.required_text("skuId")?.trim().to_string(),
            buy_num: d.required_count("buyNum")?,
            total_price: d.required_yuan("totalPrice")?,
            brand_id: d.text("brandId"),
            pin: d.text("pin"),
            face_price: d.text("facePrice"),
            source_type: d.long("sourceType")?,
            features: d.object("features"),
            user_ip: d.text("userIp"),
            out_id: d.text("outId"),
            token_id: d.text("tokenId"),
        })
    }
}

/// cardQuery (卡密订单查询, §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardQueryRequest {
    pub customer_id: String,
    pub order_id: PlatformOrderNo,
}

impl CardQueryRequest {
    pub fn from_params(params: &GameParams) -> Result<CardQueryRequest, GameError> {
        let d = params.data_fields()?;
        Ok(CardQueryRequest {
            customer_id: params.customer_id.clone(),
            order_id: d.required_order_no("orderId")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::protocol::jd_game::answer::GameAnswer;
    use crate::protocol::jd_game::codes::RetCode;
    use crate::protocol::jd_game::data::{DataFields, decode_data};
    use crate::protocol::jd_game::signing::{sign, sign_string};
    use crate::protocol::vectors::game::{
        CUSTOMER_ID, K, V1_CUSTOMER_ID, V1_DATA, V1_KEY, V1_SIGN, V1_TIMESTAMP, V2_DATA, V2_JSON,
        V2_SIGN, V2_TIMESTAMP,
    };
    use crate::protocol::vectors::pairs;

    /// A signed inbound request around `json`.
    fn request(json: &str) -> GameParams {
        let data = STANDARD.encode(json.as_bytes());
        let mut p = pairs(&[
            ("customerId", "10817"),
            ("data", &data),
            ("timestamp", "20240101120000"),
        ]);
        let s = sign(&p, K);
        p.push(("sign".into(), s));
        GameParams::parse(&p).expect("params")
    }

    #[test]
    fn v1_sample_is_truncated_but_its_complete_prefix_reads() {
        let params = GameParams::parse(&pairs(&[
            ("customerId", V1_CUSTOMER_ID),
            ("data", V1_DATA),
            ("timestamp", V1_TIMESTAMP),
            ("sign", V1_SIGN),
        ]))
        .expect("params");
        assert!(params.verify_signature(V1_KEY));
        let err = PreCheckRequest::from_params(&params).unwrap_err();
        assert_eq!(err.ret_code(), RetCode::InvalidParams);
        // The whole 4-character groups decode to pretty-printed UTF-8 JSON, cut off.
        let prefix = decode_data(&V1_DATA[..272]).expect("prefix");
        assert!(prefix.contains("\"gameAccount\": \"游戏账号\""));
        assert_eq!(
            DirectChargeRequest::from_params(&request(&prefix)).unwrap_err(),
            GameError::DataNotJson
        );
        assert!(prefix.ends_with(r#""brandId": "1010000055"#));
        let fields = DataFields::parse(&format!("{prefix}\"\n}}")).expect("completed");
        assert_eq!(fields.required_yuan("totalPrice"), Ok(Fen(15000)));
        assert_eq!(fields.required_count("buyNum"), Ok(10));
        assert_eq!(fields.text("permit"), None);
        assert_eq!(fields.text("gameAccount").as_deref(), Some("游戏账号"));
    }

    #[test]
    fn v2_direct_charge_request() {
        assert_eq!(decode_data(V2_DATA).expect("utf8"), V2_JSON);
        let mut p = pairs(&[
            ("customerId", CUSTOMER_ID),
            ("data", V2_DATA),
            ("timestamp", V2_TIMESTAMP),
        ]);
        assert_eq!(
            sign_string(&p, K),
            format!("customerId=10817&data={V2_DATA}&timestamp=20240101120000&{K}")
        );
        assert_eq!(sign(&p, K), V2_SIGN);
        p.push(("sign".into(), V2_SIGN.into()));
        let params = GameParams::parse(&p).expect("params");
        assert!(params.verify_signature(K));
        assert!(!params.verify_signature("0123456789abcdef0123456789abcdee"));
        let req = DirectChargeRequest::from_params(&params).expect("request");
        assert_eq!(req.customer_id, "10817");
        assert_eq!(req.order_id.as_str(), "301189718928");
        assert_eq!(req.buy_num, 1);
        assert_eq!(req.sku_id, "10022039398");
        assert_eq!(req.brand_id.as_deref(), Some("1010000055"));
        assert_eq!(req.total_price, Fen(980));
        assert_eq!(req.game_account, "测试账号01");
        assert!(!req.rights_top_up);
        assert_eq!(req.pin, None);
    }

    #[test]
    fn lenient_json_fields() {
        let req = DirectChargeRequest::from_params(&request(
            r#"{" orderId ":203632092,"buyNum":2,"skuId":10022039398,"totalPrice":140.25,"gameAccount":"acc",
                "gameArea":"{\"id\":\"a1\",\"name\":\"一区\"}","gameServer":{"id":7,"name":"s"},
                "address":"{\"name\":\"n\",\"phone\":\"1\"}","type":"1","rights":[{"rightsId":1}],"features":{"k":"v"}}"#,
        ))
        .expect("request");
        assert_eq!(req.order_id.as_str(), "203632092");
        assert_eq!(req.buy_num, 2);
        assert_eq!(req.sku_id, "10022039398");
        assert_eq!(req.total_price, Fen(14025));
        assert_eq!(
            req.game_area,
            Some(IdName {
                id: Some("a1".into()),
                name: Some("一区".into())
            })
        );
        assert_eq!(req.game_server.and_then(|g| g.id).as_deref(), Some("7"));
        assert_eq!(
            req.address.and_then(|a| a.get("phone").cloned()),
            Some(Value::from("1"))
        );
        assert!(req.rights_top_up);
        assert_eq!(req.rights.map(|r| r.len()), Some(1));
        assert!(req.features.is_some());

        for (price, fen) in [
            ("150", 15000),
            ("\"150\"", 15000),
            ("9.8", 980),
            ("\"9.80\"", 980),
            ("0.5", 50),
            ("\" 1.230 \"", 123),
        ] {
            let json =
                format!(r#"{{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":{price}}}"#);
            let req = CardOrderRequest::from_params(&request(&json)).expect("request");
            assert_eq!(req.total_price, Fen(fen), "{price}");
        }
        for price in ["1.234", "-1", "\"abc\"", "\"\"", "null", "1e400"] {
            let json =
                format!(r#"{{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":{price}}}"#);
            let err = CardOrderRequest::from_params(&request(&json)).unwrap_err();
            assert_eq!(err.ret_code(), RetCode::InvalidParams, "{price}");
        }
    }

    #[test]
    fn typed_requests() {
        let pre = PreCheckRequest::from_params(&request(
            r#"{"pin":"zhangsan","buyNum":"10","skuId":"1016892029","brandId":"1010000055","userIp":"1.2.3.4","totalPrice":"150",
               "gameAccountType":{"id":"51yx","name":"神雕账号"},"chargeType":{"id":"yuanbao","name":"元宝"}}"#,
        ))
        .expect("precheck");
        assert_eq!(pre.customer_id, "10817");
        assert_eq!(pre.buy_num, 10);
        assert_eq!(pre.total_price, Fen(15000));
        assert_eq!(
            pre.game_account_type.and_then(|t| t.name).as_deref(),
            Some("神雕账号")
        );
        assert_eq!(
            pre.charge_type.and_then(|t| t.id).as_deref(),
            Some("yuanbao")
        );

        let q =
            DirectQueryRequest::from_params(&request(r#"{"orderId ": 203632092}"#)).expect("query");
        assert_eq!(q.order_id.as_str(), "203632092");
        let q =
            CardQueryRequest::from_params(&request(r#"{"orderId":"9999900003"}"#)).expect("query");
        assert_eq!(
            q,
            CardQueryRequest {
                customer_id: "10817".into(),
                order_id: PlatformOrderNo::from_long(9999900003)
            }
        );

        let card = CardOrderRequest::from_params(&request(
            r#"{"orderId":"1","buyNum":3,"skuId":"s","totalPrice":"30","sourceType":0,"facePrice":10,"outId":"P-1"}"#,
        ))
        .expect("card order");
        assert_eq!(card.buy_num, 3);
        assert_eq!(card.source_type, Some(0));
        assert_eq!(card.face_price.as_deref(), Some("10"));
        assert_eq!(card.out_id.as_deref(), Some("P-1"));
    }

    #[test]
    fn missing_and_invalid_fields_are_104() {
        let cases = [
            (
                r#"{"buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
                GameError::MissingField("orderId"),
            ),
            (
                r#"{"orderId":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
                GameError::MissingField("buyNum"),
            ),
            (
                r#"{"orderId":"1","buyNum":"1","skuId":"s","gameAccount":"a"}"#,
                GameError::MissingField("totalPrice"),
            ),
            (
                r#"{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":"1"}"#,
                GameError::MissingField("gameAccount"),
            ),
            (
                r#"{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":""}"#,
                GameError::MissingField("gameAccount"),
            ),
        ];
        for (json, expected) in cases {
            let err = DirectChargeRequest::from_params(&request(json)).unwrap_err();
            assert_eq!(err, expected, "{json}");
            assert_eq!(err.ret_code(), RetCode::InvalidParams);
        }
        for json in [
            r#"{"orderId":"12a","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":-5,"buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"99999999999999999999","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"1","buyNum":"0","skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"1","buyNum":1.5,"skuId":"s","totalPrice":"1","gameAccount":"a"}"#,
            r#"{"orderId":"1","buyNum":"1","skuId":"s","totalPrice":"1","gameAccount":"a","type":"7"}"#,
        ] {
            let err = DirectChargeRequest::from_params(&request(json)).unwrap_err();
            assert!(
                matches!(err, GameError::InvalidField { .. }),
                "{json}: {err:?}"
            );
            assert_eq!(
                GameAnswer::from_error(&err).ret_code,
                RetCode::InvalidParams
            );
        }
    }

    #[test]
    fn bad_data_is_104() {
        for (data, expected) in [
            ("@@@@notbase64", GameError::DataNotBase64),
            (V1_DATA, GameError::DataNotBase64),
            ("aGVsbG8gd29ybGQ=", GameError::DataNotJson), // "hello world"
            ("WzEsMiwzXQ==", GameError::DataNotJson),     // "[1,2,3]", not an object
            (&V2_DATA[..100], GameError::DataNotJson),    // truncated at a group boundary
        ] {
            let mut p = pairs(&[
                ("customerId", CUSTOMER_ID),
                ("data", data),
                ("timestamp", V2_TIMESTAMP),
            ]);
            let s = sign(&p, K);
            p.push(("sign".into(), s));
            let params = GameParams::parse(&p).expect("params");
            assert!(params.verify_signature(K));
            let err = DirectQueryRequest::from_params(&params).unwrap_err();
            assert_eq!(err, expected, "{data}");
            assert_eq!(err.ret_code(), RetCode::InvalidParams);
        }
    }
}
