//! The command line: subcommands and their arguments (clap).

use clap::{Args, Parser, Subcommand};
use jd_sim::callback::AnswerMode;
use jd_sim::game::GameCall;

/// 京东模拟器（联调工具）：按京东的方式签名并发送请求、严格检查应答，或接收并检查商户的结果回调。
/// JD simulator for merchant integration tests. Exit code 0 = valid, 1 = something is wrong,
/// 2 = usage error.
#[derive(Parser)]
#[command(name = "jd-sim", version)]
pub(crate) struct Cli {
    /// 以 JSON 输出 (print JSON instead of text)
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// 京东通用交易 (beginDistill / findDistill)
    #[command(subcommand)]
    General(GeneralCommand),
    /// 京东游戏点卡 (preCheck / directCharge / directQuery / cardOrder / cardQuery)
    #[command(subcommand)]
    Game(GameCommand),
    /// 接收并检查结果回调 (serve JD's callback endpoints)
    Listen(ListenArgs),
}

#[derive(Subcommand)]
pub(crate) enum GeneralCommand {
    /// 提交充值 / 提取卡密 (beginDistill)
    Begin(BeginArgs),
    /// 生产反查 (findDistill)
    Find(FindArgs),
}

#[derive(Args, Clone)]
pub(crate) struct GeneralShop {
    /// gateway 地址，如 http://127.0.0.1:8080（或完整接口地址）
    #[arg(long, env = "JD_SIM_URL")]
    pub(crate) url: String,
    /// vendorId（京东分配的商家号）
    #[arg(long, env = "JD_VENDOR_ID")]
    pub(crate) vendor_id: String,
    /// MD5 签名密钥
    #[arg(long, env = "JD_MD5_KEY", hide_env_values = true)]
    pub(crate) md5_key: String,
    /// AES 密钥（32 个字符），用于解密 product
    #[arg(long, env = "JD_AES_KEY", hide_env_values = true)]
    pub(crate) aes_key: String,
}

#[derive(Args)]
pub(crate) struct BeginArgs {
    #[command(flatten)]
    pub(crate) shop: GeneralShop,
    /// wareNo（商品编码 / 京东 SKU）
    #[arg(long)]
    pub(crate) ware_no: String,
    /// 数量 quantity
    #[arg(long, visible_alias = "buy-num", default_value_t = 1)]
    pub(crate) quantity: u32,
    /// 订单总价 totalPrice，单位：分
    #[arg(long)]
    pub(crate) total_price: i64,
    /// jdOrderNo（默认自动生成）
    #[arg(long)]
    pub(crate) jd_order_no: Option<u64>,
    /// notifyUrl：回调地址前缀，商户回调 notifyUrl + /produce/result
    #[arg(long, default_value = "http://127.0.0.1:9999/vtp")]
    pub(crate) notify_url: String,
    /// 直充商品（成功应答不带卡密）
    #[arg(long, requires = "account")]
    pub(crate) direct: bool,
    /// 充值账号 produceAccount（直充）
    #[arg(long)]
    pub(crate) account: Option<String>,
}

#[derive(Args)]
pub(crate) struct FindArgs {
    #[command(flatten)]
    pub(crate) shop: GeneralShop,
    /// 要反查的 jdOrderNo
    #[arg(long)]
    pub(crate) jd_order_no: u64,
    /// 下单数量：给出时核对卡密张数
    #[arg(long, visible_alias = "buy-num")]
    pub(crate) quantity: Option<u32>,
    /// 直充商品（成功应答不带卡密）
    #[arg(long)]
    pub(crate) direct: bool,
    /// 生产中时每 0.5 秒再查，最多等这么多秒
    #[arg(long, default_value_t = 0)]
    pub(crate) wait: u64,
}

#[derive(Subcommand)]
pub(crate) enum GameCommand {
    /// 提单校验 (preCheck)
    PreCheck(GameArgs),
    /// 直充接单 (directCharge)
    DirectCharge(GameArgs),
    /// 直充订单查询 (directQuery)
    DirectQuery(GameArgs),
    /// 卡密接单 (cardOrder)
    CardOrder(GameArgs),
    /// 卡密订单查询 (cardQuery)
    CardQuery(GameArgs),
}

impl GameCommand {
    pub(crate) fn split(self) -> (GameCall, GameArgs) {
        match self {
            GameCommand::PreCheck(a) => (GameCall::PreCheck, a),
            GameCommand::DirectCharge(a) => (GameCall::DirectCharge, a),
            GameCommand::DirectQuery(a) => (GameCall::DirectQuery, a),
            GameCommand::CardOrder(a) => (GameCall::CardOrder, a),
            GameCommand::CardQuery(a) => (GameCall::CardQuery, a),
        }
    }
}

#[derive(Args)]
pub(crate) struct GameArgs {
    /// gateway 地址，如 http://127.0.0.1:8080（或完整接口地址）
    #[arg(long, env = "JD_SIM_URL")]
    pub(crate) url: String,
    /// customerId（京东分配的商户号）
    #[arg(long, env = "JD_CUSTOMER_ID")]
    pub(crate) customer_id: String,
    /// 签名私钥 (private key)
    #[arg(long, env = "JD_PRIVATE_KEY", hide_env_values = true)]
    pub(crate) private_key: String,
    /// skuId（接单与校验必填）
    #[arg(long)]
    pub(crate) sku_id: Option<String>,
    /// 购买数量 buyNum（接单默认 1；查询时给出则核对卡密张数）
    #[arg(long, visible_alias = "buy-num")]
    pub(crate) quantity: Option<u32>,
    /// 总价 totalPrice，单位：元，如 10.00（接单与校验必填）
    #[arg(long)]
    pub(crate) total_price: Option<String>,
    /// 充值账号 gameAccount（直充必填）
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// orderId（接单默认自动生成；查询必填）
    #[arg(long)]
    pub(crate) order_id: Option<u64>,
    /// brandId
    #[arg(long, default_value = "1")]
    pub(crate) brand_id: String,
    /// 查询时充值中每 0.5 秒再查，最多等这么多秒
    #[arg(long, default_value_t = 0)]
    pub(crate) wait: u64,
}

#[derive(Args)]
pub(crate) struct ListenArgs {
    /// 监听端口
    #[arg(long, default_value_t = 9999)]
    pub(crate) port: u16,
    /// 监听地址（让其他机器或容器回调时用 0.0.0.0）
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind: String,
    /// 通用交易 MD5 密钥
    #[arg(long, env = "JD_MD5_KEY", hide_env_values = true)]
    pub(crate) md5_key: Option<String>,
    /// 通用交易 AES 密钥（解密卡密）
    #[arg(long, env = "JD_AES_KEY", hide_env_values = true)]
    pub(crate) aes_key: Option<String>,
    /// 通用交易 vendorId（给出时核对）
    #[arg(long, env = "JD_VENDOR_ID")]
    pub(crate) vendor_id: Option<String>,
    /// 游戏点卡私钥
    #[arg(long, env = "JD_PRIVATE_KEY", hide_env_values = true)]
    pub(crate) private_key: Option<String>,
    /// 游戏点卡 customerId（给出时核对）
    #[arg(long, env = "JD_CUSTOMER_ID")]
    pub(crate) customer_id: Option<String>,
    /// 检查通过的回调如何应答：success（成功）、fail（京东返回错误码）、error（HTTP 500）
    #[arg(long, value_enum, default_value_t = AnswerMode::Success)]
    pub(crate) answer: AnswerMode,
    /// 收到这么多个回调后退出（测试用）
    #[arg(long)]
    pub(crate) exit_after: Option<u32>,
}
