//! The cgroup tree of a sampler: the first walk, the rolling re-listing of a slice of its
//! directories per pass, and splicing what changed into the walk (new subtrees in, removed
//! ones out with their held files, series and owner labels).

use std::cmp::Ordering;

use oomlens_model::cgroup_path;

use super::{CgNode, FastMap, Sampler};
use crate::cgroupfs::{CgroupFs, UsageFile};
use crate::SourceError;

impl Sampler {
    /// Walks the whole tree and carries each known cgroup's state over by path (the first
    /// pass, `--full`, and while the focus is missing).
    pub(super) fn rewalk(&mut self, fs: &CgroupFs) -> Result<(), SourceError> {
        let tree = fs.walk(&self.focus)?;
        let mut old: FastMap<String, CgNode> = std::mem::take(&mut self.tree)
            .into_iter()
            .zip(std::mem::take(&mut self.nodes))
            .collect();
        let mut nodes = Vec::with_capacity(tree.len());
        for path in &tree {
            // A cgroup removed and made again under the same name starts afresh.
            let node = match old.remove(path) {
                Some(n) if !n.gone => n,
                Some(n) => {
                    self.forget(path, n);
                    self.new_node(fs, path)
                }
                None => self.new_node(fs, path),
            };
            nodes.push(node);
        }
        // Removed cgroups: their files close, their processes' series go.
        for (path, n) in old {
            self.forget(&path, n);
        }
        self.tree = tree;
        self.nodes = nodes;
        self.link_parents();
        Ok(())
    }

    /// Re-lists the next 1/`walk_every` ([`super::WALK_EVERY`] by default) of the walk's
    /// directories (round robin) and splices in what changed, so that a pass pays a slice
    /// of a walk instead of every `walk_every`th pass paying all of it: a cgroup made or
    /// removed anywhere is seen within `walk_every` passes either way.
    pub(super) fn relist(&mut self, fs: &CgroupFs) -> Result<(), SourceError> {
        let n = self.tree.len();
        let mut changed: Vec<(String, Option<Vec<String>>)> = Vec::new();
        for _ in 0..n.div_ceil(self.walk_every as usize) {
            let i = self.list_cursor % n;
            self.list_cursor = i + 1;
            if self.nodes[i].gone && i > 0 {
                continue; // its parent's listing says whether it is back
            }
            if self.nodes[i].dir_watched && !self.nodes[i].gone {
                continue; // inotify tells the caller, who calls relist_dir
            }
            self.stats.listings += 1;
            let now = fs.children(&self.tree[i])?;
            let same = now
                .as_ref()
                .is_some_and(|names| names.iter().map(String::as_str).eq(self.child_names(i)));
            if !same {
                changed.push((self.tree[i].clone(), now));
            }
        }
        for (dir, now) in changed {
            match now {
                Some(names) => self.splice(fs, &dir, &names)?,
                None if dir == self.focus => self.rewalk(fs)?,
                None => {} // removed: its parent's listing takes it out
            }
        }
        Ok(())
    }

    /// One past the last index of the subtree of `i`: in depth-first order a subtree is a
    /// run, and the first node after it has its parent before `i`.
    pub(super) fn subtree_end(&self, i: usize) -> usize {
        (i + 1..self.nodes.len())
            .find(|&j| self.nodes[j].parent.is_none_or(|p| p < i))
            .unwrap_or(self.nodes.len())
    }

    /// The names of the children of `i`, in walk (name) order; `""` (no directory's name)
    /// for a child that is gone, so that the listing differs whether or not it was made again.
    pub(super) fn child_names(&self, i: usize) -> impl Iterator<Item = &str> {
        (i + 1..self.subtree_end(i))
            .filter(move |&j| self.nodes[j].parent == Some(i))
            .map(|j| match self.nodes[j].gone {
                true => "",
                false => cgroup_path::name(&self.tree[j]),
            })
    }

    /// Replaces the children of `dir` by `names` (sorted): kept children keep their
    /// subtrees and state, new ones are walked, removed (or removed and made again) ones
    /// are forgotten with their subtrees.
    pub(super) fn splice(
        &mut self,
        fs: &CgroupFs,
        dir: &str,
        names: &[String],
    ) -> Result<(), SourceError> {
        // An earlier splice of this pass may have taken it out.
        let Some(i) = self.tree.iter().position(|p| p == dir) else {
            return Ok(());
        };
        let end = self.subtree_end(i);
        // The old children, each with its subtree, in name order.
        let mut old: Vec<(String, Vec<(String, CgNode)>)> = Vec::new();
        let drained: Vec<(String, CgNode)> = self
            .tree
            .drain(i + 1..end)
            .zip(self.nodes.drain(i + 1..end))
            .collect();
        for (p, n) in drained {
            if n.parent == Some(i) {
                old.push((cgroup_path::name(&p).to_string(), Vec::new()));
            }
            old.last_mut().expect("a child first").1.push((p, n));
        }
        let mut paths = Vec::new();
        let mut nodes = Vec::new();
        let mut old = old.into_iter().peekable();
        let mut names = names.iter().peekable();
        loop {
            let order = match (old.peek(), names.peek()) {
                (None, None) => break,
                (Some((o, _)), Some(n)) => o.as_str().cmp(n.as_str()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
            };
            if order != Ordering::Greater {
                let (_, run) = old.next().expect("peeked");
                if order == Ordering::Equal && !run[0].1.gone {
                    names.next();
                    for (p, n) in run {
                        paths.push(p);
                        nodes.push(n);
                    }
                    continue;
                }
                // Removed, or removed and made again (then walked below as new).
                for (p, n) in run {
                    self.forget(&p, n);
                }
                if order == Ordering::Less {
                    continue;
                }
            }
            let name = names.next().expect("peeked");
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            // Gone again before this walk: nothing to add.
            for p in fs.walk(&path)? {
                nodes.push(self.new_node(fs, &p));
                paths.push(p);
            }
        }
        self.tree.splice(i + 1..i + 1, paths);
        self.nodes.splice(i + 1..i + 1, nodes);
        self.link_parents();
        Ok(())
    }

    /// Sets every node's parent index from the paths (depth-first order: a parent is the
    /// nearest earlier path it is a prefix of).
    pub(super) fn link_parents(&mut self) {
        self.shape += 1; // the walk changed: rows are built again
        let mut stack: Vec<usize> = Vec::new();
        for j in 0..self.tree.len() {
            while let Some(&top) = stack.last() {
                if cgroup_path::is_below(&self.tree[j], &self.tree[top]) {
                    break;
                }
                stack.pop();
            }
            self.nodes[j].parent = stack.last().copied();
            stack.push(j);
        }
    }

    /// A node for a cgroup first seen: its usage file (held while descriptors last) and
    /// its owner label.
    pub(super) fn new_node(&mut self, fs: &CgroupFs, path: &str) -> CgNode {
        let hold = self.hold_left > 0;
        let usage_file = fs.usage_file(path, hold);
        if usage_file.as_ref().is_some_and(UsageFile::is_held) {
            self.hold_left -= 1;
        }
        self.owners
            .entry(path.to_string())
            .or_insert_with(|| (self.owner_label)(path));
        CgNode {
            usage_file,
            ..CgNode::default()
        }
    }

    /// Drops a removed cgroup: its held file closes, its processes' series and its owner
    /// label go.
    pub(super) fn forget(&mut self, path: &str, n: CgNode) {
        if n.usage_file.as_ref().is_some_and(UsageFile::is_held) {
            self.hold_left += 1;
        }
        for p in n.full.iter().flat_map(|st| &st.procs) {
            self.vanished.push(p.pid);
            self.deleted.remove(&p.pid);
        }
        self.owners.remove(path);
    }
}
