//! `jd-sim`: the JD simulator command line. Arguments here; sending, printing and listening in
//! `run`; building and checking in the `jd_sim` library.

mod run;

use clap::{Args, Parser, Subcommand};
use jd_sim::callback::AnswerMode;
use jd_sim::game::GameCall;

/// 京东模拟器（联调工具）：按京东的方式签名并发送请求、严格检查应答，或接收并检查商户的结果回调。
/// JD simulator for merchant integration tests. Exit code 0 = valid, 1 = something is wrong,
/// 2 = usage error.
#[derive(Parser)]
#[command(name = "jd-sim", version)]
struct Cli {
    /// 以 JSON 输出 (print JSON instead of text)
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
enum GeneralCommand {
    /// 提交充值 / 提取卡密 (beginDistill)
    Begin(BeginArgs),
    /// 生产反查 (findDistill)
    Find(FindArgs),
}

#[derive(Args, Clone)]
struct GeneralShop {
    /// gateway 地址，如 http://127.0.0.1:8080（或完整接口地址）
    #[arg(long, env = "JD_SIM_URL")]
    url: String,
    /// vendorId（京东分配的商家号）
    #[arg(long, env = "JD_VENDOR_ID")]
    vendor_id: String,
    /// MD5 签名密钥
    #[arg(long, env = "JD_MD5_KEY", hide_env_values = true)]
    md5_key: String,
    /// AES 密钥（32 个字符），用于解密 product
    #[arg(long, env = "JD_AES_KEY", hide_env_values = true)]
    aes_key: String,
}

#[derive(Args)]
struct BeginArgs {
    #[command(flatten)]
    shop: GeneralShop,
    /// wareNo（商品编码 / 京东 SKU）
    #[arg(long)]
    ware_no: String,
    /// 数量 quantity
    #[arg(long, visible_alias = "buy-num", default_value_t = 1)]
    quantity: u32,
    /// 订单总价 totalPrice，单位：分
    #[arg(long)]
    total_price: i64,
    /// jdOrderNo（默认自动生成）
    #[arg(long)]
    jd_order_no: Option<u64>,
    /// notifyUrl：回调地址前缀，商户回调 notifyUrl + /produce/result
    #[arg(long, default_value = "http://127.0.0.1:9999/vtp")]
    notify_url: String,
    /// 直充商品（成功应答不带卡密）
    #[arg(long, requires = "account")]
    direct: bool,
    /// 充值账号 produceAccount（直充）
    #[arg(long)]
    account: Option<String>,
}

#[derive(Args)]
struct FindArgs {
    #[command(flatten)]
    shop: GeneralShop,
    /// 要反查的 jdOrderNo
    #[arg(long)]
    jd_order_no: u64,
    /// 下单数量：给出时核对卡密张数
    #[arg(long, visible_alias = "buy-num")]
    quantity: Option<u32>,
    /// 直充商品（成功应答不带卡密）
    #[arg(long)]
    direct: bool,
    /// 生产中时每 0.5 秒再查，最多等这么多秒
    #[arg(long, default_value_t = 0)]
    wait: u64,
}

#[derive(Subcommand)]
enum GameCommand {
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
    fn split(self) -> (GameCall, GameArgs) {
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
struct GameArgs {
    /// gateway 地址，如 http://127.0.0.1:8080（或完整接口地址）
    #[arg(long, env = "JD_SIM_URL")]
    url: String,
    /// customerId（京东分配的商户号）
    #[arg(long, env = "JD_CUSTOMER_ID")]
    customer_id: String,
    /// 签名私钥 (private key)
    #[arg(long, env = "JD_PRIVATE_KEY", hide_env_values = true)]
    private_key: String,
    /// skuId（接单与校验必填）
    #[arg(long)]
    sku_id: Option<String>,
    /// 购买数量 buyNum（接单默认 1；查询时给出则核对卡密张数）
    #[arg(long, visible_alias = "buy-num")]
    quantity: Option<u32>,
    /// 总价 totalPrice，单位：元，如 10.00（接单与校验必填）
    #[arg(long)]
    total_price: Option<String>,
    /// 充值账号 gameAccount（直充必填）
    #[arg(long)]
    account: Option<String>,
    /// orderId（接单默认自动生成；查询必填）
    #[arg(long)]
    order_id: Option<u64>,
    /// brandId
    #[arg(long, default_value = "1")]
    brand_id: String,
    /// 查询时充值中每 0.5 秒再查，最多等这么多秒
    #[arg(long, default_value_t = 0)]
    wait: u64,
}

#[derive(Args)]
struct ListenArgs {
    /// 监听端口
    #[arg(long, default_value_t = 9999)]
    port: u16,
    /// 监听地址（让其他机器或容器回调时用 0.0.0.0）
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// 通用交易 MD5 密钥
    #[arg(long, env = "JD_MD5_KEY", hide_env_values = true)]
    md5_key: Option<String>,
    /// 通用交易 AES 密钥（解密卡密）
    #[arg(long, env = "JD_AES_KEY", hide_env_values = true)]
    aes_key: Option<String>,
    /// 通用交易 vendorId（给出时核对）
    #[arg(long, env = "JD_VENDOR_ID")]
    vendor_id: Option<String>,
    /// 游戏点卡私钥
    #[arg(long, env = "JD_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    /// 游戏点卡 customerId（给出时核对）
    #[arg(long, env = "JD_CUSTOMER_ID")]
    customer_id: Option<String>,
    /// 检查通过的回调如何应答：success（成功）、fail（京东返回错误码）、error（HTTP 500）
    #[arg(long, value_enum, default_value_t = AnswerMode::Success)]
    answer: AnswerMode,
    /// 收到这么多个回调后退出（测试用）
    #[arg(long)]
    exit_after: Option<u32>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    let outcome = match cli.command {
        Command::General(GeneralCommand::Begin(a)) => run::general_begin(a, json).await,
        Command::General(GeneralCommand::Find(a)) => run::general_find(a, json).await,
        Command::Game(g) => {
            let (call, a) = g.split();
            run::game(call, a, json).await
        }
        Command::Listen(a) => run::listen(a, json).await,
    };
    std::process::exit(match outcome {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(run::Failure::Usage(msg)) => {
            eprintln!("jd-sim: 用法错误 (usage error): {msg}");
            2
        }
        Err(run::Failure::Other(msg)) => {
            eprintln!("jd-sim: ✗ {msg}");
            1
        }
    });
}
