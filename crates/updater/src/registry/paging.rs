//! When to stop reading a tag list page by page (`GET /v2/<name>/tags/list?n=&last=`).
//!
//! Headwind read only the first page, so a repository with more tags than one page never updated.
//! oci-client does not expose the `Link` header, so the end of the list is inferred from the pages,
//! under these assumptions (the distribution spec's, plus what real registries do):
//!
//! - A registry honouring `n` returns fewer than `n` tags only on the last page. Registries that cap
//!   `n` lower than asked (Quay caps at 100) would break this, hence a default page size of 100.
//! - A registry that ignores `n` returns more than `n` tags: that is its whole list (distribution 2.8,
//!   the registry Debian ships, ignores both `n` and `last`), so there is no second request.
//! - A registry that ignores `last` repeats a page: nothing new means the end, not a loop.
//! - Anything else is bounded by a page budget, reported as an error rather than a silent truncation.
//!
//! The state machine is pure, so each assumption is a unit test; the client only does the IO.

use std::collections::HashSet;

/// What to do after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Ask for the page after this tag.
    Fetch {
        /// The `last` query parameter for the next request.
        last: String,
    },
    /// The list is complete.
    Done,
}

/// The page budget ran out before the list ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageBudgetExhausted {
    pub pages: usize,
}

/// Tags collected so far, deduplicated, in the registry's order.
#[derive(Debug)]
pub(crate) struct TagPages {
    page_size: usize,
    max_pages: usize,
    pages: usize,
    seen: HashSet<String>,
    tags: Vec<String>,
}

impl TagPages {
    /// `page_size` is the `n` sent with every request (at least 1); `max_pages` bounds the requests.
    pub(crate) fn new(page_size: usize, max_pages: usize) -> Self {
        Self {
            page_size: page_size.max(1),
            max_pages: max_pages.max(1),
            pages: 0,
            seen: HashSet::new(),
            tags: Vec::new(),
        }
    }

    /// The `n` to send.
    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    /// Takes one page and decides whether another is needed.
    pub(crate) fn accept(&mut self, page: Vec<String>) -> Result<Next, PageBudgetExhausted> {
        self.pages += 1;
        let len = page.len();
        let last = page.last().cloned();
        let mut new = 0;
        for tag in page {
            if self.seen.insert(tag.clone()) {
                self.tags.push(tag);
                new += 1;
            }
        }
        match last {
            None => Ok(Next::Done),
            // More than asked for: the registry ignored `n` and sent everything.
            Some(_) if len > self.page_size => Ok(Next::Done),
            // Nothing new: the registry ignored `last` and repeated itself.
            Some(_) if new == 0 => Ok(Next::Done),
            Some(_) if len < self.page_size => Ok(Next::Done),
            Some(_) if self.pages >= self.max_pages => Err(PageBudgetExhausted { pages: self.pages }),
            Some(last) => Ok(Next::Fetch { last }),
        }
    }

    /// Every tag seen, each once.
    pub(crate) fn into_tags(self) -> Vec<String> {
        self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry's tag list as a function of (`n`, `last`), to drive the state machine.
    fn read_all(
        page_size: usize,
        max_pages: usize,
        mut registry: impl FnMut(usize, Option<&str>) -> Vec<String>,
    ) -> (Result<Vec<String>, PageBudgetExhausted>, usize) {
        let mut pages = TagPages::new(page_size, max_pages);
        let mut last: Option<String> = None;
        let mut requests = 0;
        loop {
            requests += 1;
            match pages.accept(registry(pages.page_size(), last.as_deref())) {
                Ok(Next::Fetch { last: next }) => last = Some(next),
                Ok(Next::Done) => return (Ok(pages.into_tags()), requests),
                Err(e) => return (Err(e), requests),
            }
        }
    }

    fn tags(count: usize) -> Vec<String> {
        let mut tags: Vec<String> = (0..count).map(|i| format!("1.0.{i}")).collect();
        tags.sort();
        tags
    }

    /// A spec-conforming registry: lexical order, at most `n` tags after `last`, capped at `cap`.
    fn conforming(all: Vec<String>, cap: usize) -> impl FnMut(usize, Option<&str>) -> Vec<String> {
        move |n, last| {
            all.iter()
                .filter(|tag| last.is_none_or(|last| tag.as_str() > last))
                .take(n.min(cap))
                .cloned()
                .collect()
        }
    }

    #[test]
    fn conforming_registry_is_read_to_the_end() {
        let (result, requests) = read_all(50, 100, conforming(tags(120), usize::MAX));
        assert_eq!(result.unwrap(), tags(120));
        assert_eq!(requests, 3, "50 + 50 + 20");
    }

    #[test]
    fn exact_multiple_of_the_page_size_ends_on_an_empty_page() {
        let (result, requests) = read_all(50, 100, conforming(tags(100), usize::MAX));
        assert_eq!(result.unwrap().len(), 100);
        assert_eq!(requests, 3, "50 + 50 + empty");
    }

    #[test]
    fn registry_ignoring_n_is_read_in_one_request() {
        let all = tags(120);
        let (result, requests) = read_all(50, 100, |_, _| all.clone());
        assert_eq!(result.unwrap(), all);
        assert_eq!(requests, 1);
    }

    #[test]
    fn registry_ignoring_last_stops_when_a_page_repeats() {
        let all = tags(120);
        let (result, requests) = read_all(50, 100, |n, _| all[..n].to_vec());
        assert_eq!(result.unwrap(), all[..50].to_vec());
        assert_eq!(requests, 2);
    }

    #[test]
    fn endless_registry_exhausts_the_page_budget() {
        let mut counter = 0;
        let (result, requests) = read_all(2, 5, |n, _| {
            (0..n)
                .map(|_| {
                    counter += 1;
                    format!("t{counter}")
                })
                .collect()
        });
        assert_eq!(result.unwrap_err(), PageBudgetExhausted { pages: 5 });
        assert_eq!(requests, 5);
    }

    #[test]
    fn empty_repository_is_one_request() {
        let (result, requests) = read_all(50, 100, |_, _| Vec::new());
        assert!(result.unwrap().is_empty());
        assert_eq!(requests, 1);
    }

    #[test]
    fn overlapping_pages_keep_each_tag_once() {
        let pages = [vec!["a", "b"], vec!["b", "c"], vec!["d"]];
        let mut calls = pages.iter();
        let (result, _) = read_all(2, 10, |_, _| {
            calls.next().map(|p| p.iter().map(|s| s.to_string()).collect()).unwrap_or_default()
        });
        assert_eq!(result.unwrap(), ["a", "b", "c", "d"]);
    }
}
