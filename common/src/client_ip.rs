//! The client's address behind reverse proxies. With forwarded-for trust off it is the socket
//! peer. With it on, `X-Forwarded-For` is believed only from a trusted peer: one listed in
//! `TRUSTED_PROXIES` (IPs / CIDRs) or, when that list is empty, a peer on a loopback or private
//! address (the usual single proxy in front, e.g. compose's). A caller that reaches the port
//! directly from elsewhere is the client, whatever header it sends. From a trusted peer the
//! header is read from the right: each hop a listed proxy appended is skipped, and the first
//! (right-most) hop that is not one is the client. The left of the header is whatever the client
//! sent and is never believed.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// How to find the client's address; built from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIp {
    /// Read `X-Forwarded-For` at all (the service sits behind a proxy).
    pub trust_forwarded_for: bool,
    /// Proxies besides the socket peer whose hops are skipped.
    pub trusted_proxies: Vec<IpNet>,
}

/// The entries of a typed list of IPs / networks: separated by commas, spaces, `;` or new lines
/// (ASCII or full-width), trimmed, empty ones dropped. Shared by every such list (trusted
/// proxies, shops' IP allow-lists).
pub fn list_entries(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', ' ', ';', '\n', '\r', '\t', '，', '；'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// One entry: an IP address (a network of one) or a CIDR network.
pub fn parse_network(entry: &str) -> Option<IpNet> {
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .ok()
}

/// Parses a list of IPs / CIDR networks ([`list_entries`]). `Err` names the first entry that is
/// neither (cut to 64 characters).
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    list_entries(text)
        .map(|entry| parse_network(entry).ok_or_else(|| entry.chars().take(64).collect()))
        .collect()
}

/// One hop of `X-Forwarded-For`: an address, possibly with a port (`1.2.3.4:5678`,
/// `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

/// Loopback, private (RFC 1918 / unique local) or link-local: not reachable from the internet.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

impl ClientIp {
    fn trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// Whether the socket peer may tell us who the client is.
    fn trusted_peer(&self, peer: IpAddr) -> bool {
        if self.trusted_proxies.is_empty() {
            is_internal(peer)
        } else {
            self.trusted(peer)
        }
    }

    /// The client's address. `None` when trust is on and the request carries no usable
    /// forwarded-for hop (it did not come through the proxy).
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer);
        if !self.trust_forwarded_for || !self.trusted_peer(peer) {
            return Some(peer);
        }
        let mut hops: Vec<&str> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return None;
            };
            hops.extend(text.split(','));
        }
        // Right to left: skip what trusted proxies appended, stop at the first other hop.
        let mut last_trusted = None;
        for hop in hops.iter().rev() {
            let ip = canonical(parse_hop(hop)?);
            if !self.trusted(ip) {
                return Some(ip);
            }
            last_trusted = Some(ip);
        }
        // Every hop is a trusted proxy: the left-most is the closest to the client we know.
        last_trusted
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4, so lists of IPv4 networks match.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_lists() {
        let nets = parse_networks("10.0.0.0/8, 192.168.1.7;fd00::/8  ").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&ip("192.168.1.7")));
        assert_eq!(parse_networks("").unwrap(), vec![]);
        assert_eq!(parse_networks("1.2.3.4, nope").unwrap_err(), "nope");
        assert_eq!(parse_hop(" 1.2.3.4:80 "), Some(ip("1.2.3.4")));
        assert_eq!(parse_hop("[::1]:80"), Some(ip("::1")));
        assert_eq!(parse_hop("unknown"), None);
    }

    #[test]
    fn trust_off_is_the_peer() {
        let c = ClientIp::default();
        let h = headers(&["6.6.6.6"]);
        assert_eq!(c.of(ip("1.2.3.4"), &h), Some(ip("1.2.3.4")));
        assert_eq!(c.of(ip("::ffff:1.2.3.4"), &h), Some(ip("1.2.3.4")));
    }

    #[test]
    fn right_most_untrusted_hop() {
        let proxy = ip("10.0.0.2");
        let one = ClientIp {
            trust_forwarded_for: true,
            trusted_proxies: vec![],
        };
        // One proxy: the hop it appended is the client; what the client sent is ignored.
        assert_eq!(
            one.of(proxy, &headers(&["6.6.6.6, 203.0.113.9"])),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            one.of(proxy, &headers(&["203.0.113.9"])),
            Some(ip("203.0.113.9"))
        );
        // Two proxies: the CDN's hop is skipped when listed.
        let two = ClientIp {
            trust_forwarded_for: true,
            trusted_proxies: parse_networks("198.51.100.0/24, 10.0.0.0/8").unwrap(),
        };
        let h = headers(&["6.6.6.6, 203.0.113.9", "198.51.100.20"]);
        assert_eq!(two.of(proxy, &h), Some(ip("203.0.113.9")));
        // Without listing it, the CDN is the client (never the forged left-most hop).
        assert_eq!(one.of(proxy, &h), Some(ip("198.51.100.20")));
        // A client that claims to be a trusted proxy only moves one hop left, onto its own
        // forgery: still never further than what it controls.
        let h = headers(&["198.51.100.1, 203.0.113.9"]);
        assert_eq!(two.of(proxy, &h), Some(ip("203.0.113.9")));
        // No header, or garbage: no address.
        assert_eq!(one.of(proxy, &HeaderMap::new()), None);
        assert_eq!(one.of(proxy, &headers(&["1.2.3.4, bogus"])), None);
        // A caller that reaches the port directly (not a trusted peer) is the client, whatever
        // it writes in the header: with no list only internal peers are proxies, with a list
        // only listed ones.
        let forged = headers(&["203.0.113.77"]);
        assert_eq!(one.of(ip("6.6.6.6"), &forged), Some(ip("6.6.6.6")));
        assert_eq!(one.of(ip("127.0.0.1"), &forged), Some(ip("203.0.113.77")));
        assert_eq!(one.of(ip("192.168.3.4"), &forged), Some(ip("203.0.113.77")));
        assert_eq!(one.of(ip("::1"), &forged), Some(ip("203.0.113.77")));
        assert_eq!(two.of(ip("192.168.3.4"), &forged), Some(ip("192.168.3.4")));
        assert_eq!(
            two.of(ip("198.51.100.9"), &forged),
            Some(ip("203.0.113.77"))
        );
        // Every hop trusted: the left-most.
        assert_eq!(
            two.of(proxy, &headers(&["198.51.100.3, 198.51.100.4"])),
            Some(ip("198.51.100.3"))
        );
    }
}
