//! The `<option>`s of a select, one type for every select on every page (filters, forms), and
//! the one template macro that writes them (`templates/select.html`). A leaf module.

/// One `<option>`: its submitted value, its Chinese label, whether it is the current choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl SelectOption {
    /// Options from `(value, label)` pairs; those whose value `is_selected` are marked.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        is_selected: impl Fn(&str) -> bool,
    ) -> Vec<SelectOption> {
        pairs
            .into_iter()
            .map(|(value, label)| SelectOption {
                value: value.to_owned(),
                label: label.to_owned(),
                selected: is_selected(value),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_marks_the_current_choice() {
        let opts = SelectOption::from_pairs([("a", "甲"), ("b", "乙")], |v| v == "b");
        assert_eq!(
            opts.iter()
                .map(|o| (o.value.as_str(), o.label.as_str(), o.selected))
                .collect::<Vec<_>>(),
            [("a", "甲", false), ("b", "乙", true)]
        );
    }
}
