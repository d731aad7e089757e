// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 section 4) over cached sort data, with the tie-breaks of
// Dovecot 2.3 (children and roots by sent date, then UID; a dummy's date is its first child's), and the
// thread-list writer (RFC 5256 section 5: "(a b)" for one child, "(a (b)(c))" for several).
import type { SortItem } from './sort.js';
import type { SortKeys } from './sort-keys.js';

/** A thread node: a message (item) or a dummy standing for a message that is referenced but not here. */
export interface ThreadNode {
  item?: SortItem;
  children: ThreadNode[];
}

const uidOf = (n: ThreadNode): number => n.item?.uid ?? 0;

/** Orders siblings by sent date, then UID (RFC 5256 section 4, REFERENCES step 4). */
function sortSiblings(keys: SortKeys, nodes: ThreadNode[]): ThreadNode[] {
  if (nodes.length < 2) return nodes;
  const dateOf = (n: ThreadNode): number => (n.item ? keys.date[n.item.slot]! : 0);
  return nodes
    .map((n) => ({ n, date: dateOf(n), uid: uidOf(n) }))
    .sort((a, b) => a.date - b.date || a.uid - b.uid)
    .map((x) => x.n);
}

/** THREAD=ORDEREDSUBJECT: messages grouped by base subject, each group under its oldest message, groups by date. */
export function threadOrderedSubject(keys: SortKeys, sorted: readonly SortItem[]): ThreadNode[] {
  // `sorted` is ordered by (SUBJECT, DATE): consecutive equal subjects form one thread.
  const threads: Array<{ date: number; first: number; items: SortItem[] }> = [];
  let prev = -1;
  for (const item of sorted) {
    const subject = keys.subjectId(item.slot);
    if (prev !== subject) threads.push({ date: keys.date[item.slot]!, first: item.seq, items: [] });
    threads[threads.length - 1]!.items.push(item);
    prev = subject;
  }
  threads.sort((a, b) => a.date - b.date || a.first - b.first);
  return threads.map((t) => ({ item: t.items[0], children: t.items.slice(1).map((item) => ({ item, children: [] })) }));
}

interface RefNode {
  item: SortItem | undefined;
  parent: RefNode | undefined;
  /** The node in the thread tree, once made */
  tree: ThreadNode | undefined;
}

const refNode = (): RefNode => ({ item: undefined, parent: undefined, tree: undefined });

function hasAncestor(node: RefNode, ancestor: RefNode): boolean {
  for (let n: RefNode | undefined = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** Links child under parent unless that makes a loop or the child already has another parent (step 1.B). */
function link(parent: RefNode, child: RefNode): void {
  if (hasAncestor(parent, child)) return;
  if (child.parent === parent) return;
  if (!child.parent) child.parent = parent;
}

interface Root {
  node: ThreadNode;
  /** Index in roots + 1 of the root this one merges into (step 5.B), 0 when none. */
  parentRoot: number;
  replyOrForward: boolean;
  ignore: boolean;
}

/** THREAD=REFERENCES (RFC 5256 section 4), messages in UID order. */
export function threadReferences(keys: SortKeys, items: readonly SortItem[]): ThreadNode[] {
  const dateOf = (n: ThreadNode): number => (n.item ? keys.date[n.item.slot]! : 0);
  // (1) Link messages by their Message-ID and references.
  const byId = new Map<string, RefNode>();
  const all: RefNode[] = [];
  const nodeFor = (id: string): RefNode => {
    let n = byId.get(id);
    if (!n) {
      n = refNode();
      byId.set(id, n);
      all.push(n);
    }
    return n;
  };
  for (const item of [...items].sort((a, b) => a.uid - b.uid)) {
    let node: RefNode;
    const id = keys.messageId[item.slot]!;
    const existing = id !== null ? nodeFor(id) : undefined;
    if (existing && !existing.item) node = existing;
    else {
      // No Message-ID, or a duplicate one: the message is a node of its own.
      node = refNode();
      all.push(node);
    }
    node.item = item;
    let parent: RefNode | undefined;
    for (const ref of keys.references[item.slot]!) {
      const r = nodeFor(ref);
      if (parent) link(parent, r);
      parent = r;
    }
    if (node.parent && node.parent !== parent) node.parent = undefined;
    if (parent) link(parent, node);
  }

  // (2), (3) Roots; dummies below a root disappear, their children move up to the nearest message above.
  const threadNode = (n: RefNode): ThreadNode => (n.tree ??= { item: n.item, children: [] });
  const rootNodes: RefNode[] = [];
  for (const n of all) {
    if (!n.parent) {
      rootNodes.push(n);
      threadNode(n);
      continue;
    }
    if (!n.item) continue;
    let p = n.parent;
    while (!p.item && p.parent) p = p.parent;
    threadNode(p).children.push(threadNode(n));
  }
  let roots: Root[] = rootNodes.map((n) => ({ node: threadNode(n), parentRoot: 0, replyOrForward: false, ignore: false }));

  // (4) Sort roots by date; a dummy root with one child becomes that child.
  const sortRoots = (): void => {
    const keyed: Array<{ root: Root; date: number; uid: number }> = [];
    for (const root of roots) {
      if (root.ignore) continue;
      if (!root.node.item) {
        if (root.node.children.length === 0) {
          root.ignore = true;
          continue;
        }
        root.node.children = sortSiblings(keys, root.node.children);
        if (root.node.children.length === 1) root.node = root.node.children[0]!;
      }
      const head = root.node.item ? root.node : root.node.children[0]!;
      keyed.push({ root, date: dateOf(head), uid: uidOf(head) });
    }
    keyed.sort((a, b) => a.date - b.date || a.uid - b.uid);
    roots = keyed.map((k) => k.root);
  };
  sortRoots();

  // (5) Gather roots with the same base subject.
  const bySubject = new Map<number, number>();
  roots.forEach((root, i) => {
    const head = root.node.item ? root.node : root.node.children[0];
    const slot = head?.item?.slot;
    if (slot === undefined || !keys.hasSubject(slot) || keys.subject(slot) === '') return;
    const subject = keys.subjectId(slot);
    root.replyOrForward = keys.replyOrForward(slot);
    const held = bySubject.get(subject);
    if (held === undefined) {
      bySubject.set(subject, i + 1);
      return;
    }
    const other = roots[held - 1]!;
    const isDummy = !root.node.item;
    if (other.node.item && (isDummy || (other.replyOrForward && !root.replyOrForward))) {
      other.parentRoot = i + 1;
      bySubject.set(subject, i + 1);
    } else {
      root.parentRoot = held;
    }
  });
  let changed = false;
  const count = roots.length;
  for (let i = 0; i < count; i++) {
    const cur = roots[i]!;
    if (cur.parentRoot === 0 || cur.ignore) continue;
    changed = true;
    let top = cur;
    do top = roots[top.parentRoot - 1]!;
    while (top.parentRoot !== 0);
    if (!cur.node.item) {
      // Both dummies: the children of both become siblings.
      top.node.children.push(...cur.node.children);
      cur.node.children = [];
      cur.ignore = true;
    } else if (!top.node.item || (cur.replyOrForward && !top.replyOrForward)) {
      top.node.children.push(cur.node);
      cur.ignore = true;
    } else {
      const dummy: Root = { node: { item: undefined, children: [top.node, cur.node] }, parentRoot: 0, replyOrForward: false, ignore: false };
      roots.push(dummy);
      top.parentRoot = roots.length;
      top.ignore = true;
      cur.ignore = true;
    }
  }
  if (changed) sortRoots();
  return roots.filter((r) => !r.ignore).map((r) => r.node);
}

/** The thread list of RFC 5256 section 5, as numbers given by `id` (sequence numbers or UIDs). */
export function writeThreads(keys: SortKeys, roots: readonly ThreadNode[], id: (item: SortItem) => number): string {
  const children = (nodes: readonly ThreadNode[], root: boolean): string => {
    const list = sortSiblings(keys, nodes.filter((n) => n.item || n.children.length));
    if (list.length === 0) return '';
    if (list.length === 1 && !root) {
      const n = list[0]!;
      return n.children.length ? `${id(n.item!)} ${children(n.children, false)}` : `${id(n.item!)}`;
    }
    let out = '';
    for (const n of list) {
      if (!n.children.length) out += `(${id(n.item!)})`;
      else out += `(${n.item ? `${id(n.item)} ` : ''}${children(n.children, false)})`;
    }
    return out;
  };
  let out = '';
  for (const r of roots) out += children([r], true);
  return out;
}
