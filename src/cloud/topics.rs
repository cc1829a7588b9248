//! The hub's MQTT topics (docs/architecture.md, "MQTT topics"): everything under
//! `{topic_prefix}/{chain}/{store}/{hub}/`.

use crate::config::Config;

/// Topic names of one hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    root: String,
}

impl Topics {
    /// `root` is `{topic_prefix}/{chain_id}/{store_id}/{hub_id}`.
    pub fn new(root: impl Into<String>) -> Topics {
        Topics { root: root.into() }
    }

    pub fn from_config(cfg: &Config) -> Topics {
        Topics::new(cfg.topic_root())
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// `…/evt/{type}`: one outbox event, QoS 1.
    pub fn event(&self, event_type: &str) -> String {
        format!("{}/evt/{event_type}", self.root)
    }

    /// `…/telemetry`: QoS 0.
    pub fn telemetry(&self) -> String {
        format!("{}/telemetry", self.root)
    }

    /// `…/status`: retained `online` / `offline` (birth and last will).
    pub fn status(&self) -> String {
        format!("{}/status", self.root)
    }

    /// `…/cmd/+`: what the hub subscribes to.
    pub fn commands_filter(&self) -> String {
        format!("{}/cmd/+", self.root)
    }

    /// The command name of a topic under `…/cmd/`, or None for any other topic.
    pub fn command_name<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let rest = topic.strip_prefix(self.root.as_str())?.strip_prefix("/cmd/")?;
        (!rest.is_empty() && !rest.contains('/')).then_some(rest)
    }

    /// `…/diag/{command id}/{part}`: a diagnostic bundle's `manifest` and its parts `0`, `1`, …
    /// (QoS 1, not retained; docs/cloud.md "diag.collect").
    pub fn diag(&self, id: &str, part: &str) -> String {
        format!("{}/diag/{id}/{part}", self.root)
    }

    /// `…/cmd-reply/{id}`.
    pub fn command_reply(&self, id: &str) -> String {
        format!("{}/cmd-reply/{id}", self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_of_one_hub() {
        let t = Topics::new("storehub/v1/huamei/sh-001/hub-1");
        assert_eq!(t.event("storehub.sale.completed"), "storehub/v1/huamei/sh-001/hub-1/evt/storehub.sale.completed");
        assert_eq!(t.status(), "storehub/v1/huamei/sh-001/hub-1/status");
        assert_eq!(t.telemetry(), "storehub/v1/huamei/sh-001/hub-1/telemetry");
        assert_eq!(t.commands_filter(), "storehub/v1/huamei/sh-001/hub-1/cmd/+");
        assert_eq!(t.command_reply("c-1"), "storehub/v1/huamei/sh-001/hub-1/cmd-reply/c-1");
        assert_eq!(t.diag("c-2", "manifest"), "storehub/v1/huamei/sh-001/hub-1/diag/c-2/manifest");
        assert_eq!(t.command_name("storehub/v1/huamei/sh-001/hub-1/cmd/price.set"), Some("price.set"));
        assert_eq!(t.command_name("storehub/v1/huamei/sh-001/hub-2/cmd/price.set"), None);
        assert_eq!(t.command_name("storehub/v1/huamei/sh-001/hub-1/cmd/"), None);
        assert_eq!(t.command_name("storehub/v1/huamei/sh-001/hub-1/cmd/a/b"), None);
    }
}
