//! How the domain's fixed-value columns map to SQL: each enum is stored as its `as_str()` text
//! and read back through its `FromStr`, so a row type can hold `OrderStatus` rather than a
//! `String` that every reader re-parses. A stored value this version does not know is a decode
//! error naming the type, never a silent default. The order-number newtypes are stored as their
//! text too.

/// Stored as text: the SQL type and the encoding every mapped type shares.
macro_rules! as_text {
    ($t:ty) => {
        impl sqlx::Type<sqlx::MySql> for $t {
            fn type_info() -> sqlx::mysql::MySqlTypeInfo {
                <str as sqlx::Type<sqlx::MySql>>::type_info()
            }
            fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::MySql>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::MySql> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<u8>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'_, sqlx::MySql>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    };
}

/// The enums are read back through `FromStr`: an unknown stored value is an error.
macro_rules! text_column {
    ($($t:ty),* $(,)?) => {$(
        as_text!($t);

        impl<'r> sqlx::Decode<'r, sqlx::MySql> for $t {
            fn decode(value: sqlx::mysql::MySqlValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::MySql>>::decode(value)?;
                text.parse::<$t>()
                    .map_err(|_| format!("unknown {} value {text:?}", stringify!($t)).into())
            }
        }
    )*};
}

/// The identifier newtypes are read back as stored (they were checked when they came in).
macro_rules! text_newtype {
    ($($t:ty),* $(,)?) => {$(
        as_text!($t);

        impl<'r> sqlx::Decode<'r, sqlx::MySql> for $t {
            fn decode(value: sqlx::mysql::MySqlValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<$t>::unchecked(<String as sqlx::Decode<'r, sqlx::MySql>>::decode(value)?))
            }
        }
    )*};
}

text_newtype!(super::OrderNo, super::PlatformOrderNo);

text_column!(
    super::OrderStatus,
    super::NotifyStatus,
    super::Platform,
    super::Role,
    super::FulfilmentMode,
    super::OrderKind,
    super::ShopMode,
    super::CardStatus,
    super::FailureReason,
    super::StockPolicy,
    super::SupplierOrderStatus,
    super::CallbackTarget,
    super::AttemptOutcome,
    super::DeadLetterStatus,
    super::DraftStatus,
    super::agiso::Service,
    super::agiso::OrderType,
    super::agiso::EventState,
    super::agiso::Source,
    super::agiso::DeliveryStep,
);
