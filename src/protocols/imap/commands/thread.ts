// THREAD and UID THREAD (RFC 5256 sections 4 and 5): THREAD=ORDEREDSUBJECT and THREAD=REFERENCES over the
// messages matching a search, answered as one THREAD response of nested thread lists.
import { parseSearchArgs } from '../proto/search-args.js';
import { ArgCursor } from '../proto/arg-cursor.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { ImapToken } from '../proto/tokens.js';
import { ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { enableCondstore, searchUsesModseq } from '../condstore/condstore.js';
import { loadSortSet, searchForSort, setItems, sortOrder } from '../sort/sort.js';
import { threadOrderedSubject, threadReferences, writeThreads } from '../sort/thread.js';

async function runThread(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const box = s.selected!;
  const cursor = new ArgCursor(cmd.args);
  const algorithm = cursor.keyword('threading algorithm');
  if (algorithm !== 'REFERENCES' && algorithm !== 'ORDEREDSUBJECT') throw new ProtocolError('Unknown thread algorithm.');
  const charset = cursor.next('charset');
  const rest: ImapToken[] = [];
  while (!cursor.done) rest.push(cursor.next('search key'));
  if (rest.length === 0) throw new ProtocolError('Missing search criteria');
  const args = parseSearchArgs([{ type: 'atom', value: 'CHARSET' }, charset, ...rest], { utf8: s.utf8Names });
  if (searchUsesModseq(args.key)) enableCondstore(s);

  const set = await loadSortSet(box, await searchForSort(box, args.key), true);
  const keys = set.keys;
  const roots =
    algorithm === 'REFERENCES'
      ? threadReferences(keys, setItems(set))
      : threadOrderedSubject(keys, setItems(set, sortOrder(set, [{ key: 'SUBJECT', reverse: false }, { key: 'DATE', reverse: false }])));
  const list = writeThreads(keys, roots, (item) => (byUid ? item.uid : item.seq));
  s.untagged(`THREAD${list ? ' ' + list : ''}`);
  return ok('Thread completed.');
}

export const threadCommand: ImapCommandSpec = {
  name: 'THREAD',
  states: ['selected'],
  deferExpunges: true,
  capabilities: () => ['THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES'],
  run: (s, cmd) => runThread(s, cmd, false),
};

export const uidThreadCommand: ImapCommandSpec = {
  name: 'UID THREAD',
  states: ['selected'],
  run: (s, cmd) => runThread(s, cmd, true),
};
