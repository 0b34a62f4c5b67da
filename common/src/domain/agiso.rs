//! Agiso's fixed-value columns: the service of a shop, what an Agiso order is, and the state
//! and source of a stored event. Mapped to their text columns by `domain::sql`.

use std::fmt;
use std::str::FromStr;

/// The Agiso services this system connects (`shops.agiso_service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Taobao / Tmall auto-delivery.
    Alds,
    /// JD through Agiso.
    AldsJd,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Alds => "alds",
            Service::AldsJd => "aldsJd",
        }
    }

    /// `alds` / `aldsJd`, in any case.
    pub fn parse(text: &str) -> Option<Service> {
        match text.trim().to_ascii_lowercase().as_str() {
            "alds" => Some(Service::Alds),
            "aldsjd" => Some(Service::AldsJd),
            _ => None,
        }
    }

    /// The service a push's `fromPlatform` names (`TbAlds`, `AldsJd`, §7.1).
    pub fn of_from_platform(from_platform: &str) -> Option<Service> {
        match from_platform.trim().to_ascii_lowercase().as_str() {
            "tbalds" | "alds" => Some(Service::Alds),
            "aldsjd" => Some(Service::AldsJd),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Service::Alds => "淘宝",
            Service::AldsJd => "京东",
        }
    }
}

/// What an Agiso order is, which decides the call that delivers it (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// A Taobao trade: cards by `CreateOrderResult`, then `LogisticsDummySend`.
    Taobao,
    /// JD 游戏点卡, card type (`OrderType` 2): `GameCard/CardSend`.
    JdGameCard,
    /// JD 游戏点卡, top-up (`OrderType` 1): `GameCard/RechargeSend`.
    JdGameRecharge,
    /// JD 通用交易: `Vtp/Send`.
    JdVtp,
}

impl OrderType {
    pub const ALL: [OrderType; 4] = [
        OrderType::Taobao,
        OrderType::JdGameCard,
        OrderType::JdGameRecharge,
        OrderType::JdVtp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Taobao => "taobao",
            OrderType::JdGameCard => "jd_game_card",
            OrderType::JdGameRecharge => "jd_game_recharge",
            OrderType::JdVtp => "jd_vtp",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrderType::Taobao => "淘宝订单",
            OrderType::JdGameCard => "京东点卡（卡密）",
            OrderType::JdGameRecharge => "京东点卡（直充）",
            OrderType::JdVtp => "京东通用交易",
        }
    }
}

impl FromStr for OrderType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        OrderType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(())
    }
}

/// `agiso_events.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    /// Handled: its orders exist, or it needed nothing.
    Done,
    /// Its lines must still be read through the detail endpoint (lean pushes, JD `JdTradePay`).
    Pending,
    /// Stored for the record; nothing to do (unknown topic, closed trade, unreadable payload).
    Ignored,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Done => "done",
            EventState::Pending => "pending",
            EventState::Ignored => "ignored",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            EventState::Done => "已处理",
            EventState::Pending => "待读取详情",
            EventState::Ignored => "无需处理",
        }
    }
}

impl FromStr for EventState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [EventState::Done, EventState::Pending, EventState::Ignored]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or(())
    }
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Push,
    Poll,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Push => "push",
            Source::Poll => "poll",
        }
    }
}

impl FromStr for Service {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Service::parse(s).ok_or(())
    }
}

impl FromStr for Source {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "push" => Ok(Source::Push),
            "poll" => Ok(Source::Poll),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a Taobao delivery got (`agiso_orders.step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStep {
    /// Nothing stored with Agiso yet.
    None,
    /// The cards are stored with Agiso (`CreateOrderResult` done): a retry goes on with the
    /// shipment.
    ResultStored,
}

impl DeliveryStep {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStep::None => "none",
            DeliveryStep::ResultStored => "result_stored",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeliveryStep::None => "未存入卡密",
            DeliveryStep::ResultStored => "卡密已存入阿奇索",
        }
    }
}

impl FromStr for DeliveryStep {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "none" => Ok(DeliveryStep::None),
            "result_stored" => Ok(DeliveryStep::ResultStored),
            _ => Err(()),
        }
    }
}
