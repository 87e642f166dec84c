import { ValidationException } from '@tongban/common';

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

const notJson = (why: string) => new ValidationException('file', 'JSON', `file: not valid JSON (${why})`);

/**
 * The elements of a JSON array read from text chunks, one parsed element at a time, so a file of any
 * size is never held whole: the top-level array, or the array under `key` of a top-level object
 * (other members of that object are parsed and dropped). Each element's text goes to JSON.parse, which
 * does the strict checking; the scanner between elements only tracks strings, brackets and commas.
 * Throws ValidationException(field 'file', rule 'JSON') for text that is not JSON, and rule 'SHAPE'
 * when there is no such array.
 */
export async function* jsonArrayElements(chunks: AsyncIterable<string>, key: string): AsyncGenerator<unknown> {
  const shape = () => new ValidationException('file', 'SHAPE', `file: must be a JSON array of licence records or {"${key}": [...]}`);
  // Where the scanner is: before the top value; in the wrapper object (expecting a key, a colon, a
  // value, or a comma); in the array (expecting an element or its end); in a value being captured;
  // after the top value.
  type Mode = 'top' | 'objKey' | 'objColon' | 'objValue' | 'objNext' | 'arrFirst' | 'arrNext' | 'value' | 'end';
  let mode: Mode = 'top';
  let inWrapper = false; // the array sits inside the {key: [...]} object
  let found = false;
  let captureFor: 'element' | 'member' | 'key' = 'element';
  let memberKey = '';
  let text = ''; // the value being captured (across chunks)
  let depth = 0;
  let inString = false;
  let escaped = false;
  const pending: unknown[] = [];

  let elements = 0;
  // JSON.parse's message quotes the text around the fault, which may hold a holder's ID number: the
  // error names where the fault is, never what the file says there.
  const parse = (s: string, what: string): unknown => {
    try {
      return JSON.parse(s);
    } catch {
      throw notJson(`${what} is malformed`);
    }
  };

  /** The captured value ended (at a `,`, `]` or `}` outside it, or at a key's closing quote): the next mode. */
  const finish = (): Mode => {
    const value = text;
    text = '';
    if (captureFor === 'key') {
      memberKey = parse(value, 'an object key') as string;
      return 'objColon';
    }
    if (captureFor === 'member') {
      parse(value, 'a member of the top-level object');
      return 'objNext';
    }
    pending.push(parse(value, `records[${elements}]`));
    elements++;
    return 'arrNext';
  };

  for await (const chunk of chunks) {
    let start = mode === 'value' ? 0 : -1; // where the captured text of this chunk starts
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (mode === 'value') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) {
            inString = false;
            if (captureFor === 'key') {
              text += chunk.slice(start, i + 1);
              mode = finish();
            }
          }
          continue;
        }
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if ((c === 0x7d || c === 0x5d || c === 0x2c) && depth === 0) {
          text += chunk.slice(start, i);
          mode = finish();
          i--; // the container's `,`/`]`/`}` is read again in the new mode
        } else if (c === 0x7d || c === 0x5d) depth--;
        continue;
      }
      if (WS.has(c)) continue;
      switch (mode) {
        case 'top':
          if (c === 0xfeff) break; // a byte-order mark
          if (c === 0x5b) mode = 'arrFirst';
          else if (c === 0x7b) {
            inWrapper = true;
            mode = 'objKey';
          } else throw shape();
          break;
        case 'objKey':
          if (c === 0x7d && !memberKey) mode = 'end';
          else if (c === 0x22) {
            captureFor = 'key';
            inString = true;
            start = i;
            mode = 'value';
          } else throw notJson('expected an object key');
          break;
        case 'objColon':
          if (c !== 0x3a) throw notJson('expected ":" after an object key');
          mode = 'objValue';
          break;
        case 'objValue':
          if (memberKey === key && c === 0x5b && !found) {
            found = true;
            mode = 'arrFirst';
          } else {
            captureFor = 'member';
            start = i;
            depth = 0;
            mode = 'value';
            i--;
          }
          break;
        case 'objNext':
          if (c === 0x2c) mode = 'objKey';
          else if (c === 0x7d) mode = 'end';
          else throw notJson('expected "," or "}" in the object');
          break;
        case 'arrFirst':
        case 'arrNext':
          if (c === 0x5d) {
            found ||= !inWrapper;
            mode = inWrapper ? 'objNext' : 'end';
          } else if (mode === 'arrNext' && c !== 0x2c) throw notJson('expected "," or "]" after an array element');
          else {
            // An element starts here (after the first "[") or after this ",": capture it.
            captureFor = 'element';
            depth = 0;
            start = mode === 'arrNext' ? i + 1 : i;
            if (mode === 'arrFirst') i--;
            mode = 'value';
          }
          break;
        case 'end':
          throw notJson('unexpected text after the end of the document');
      }
    }
    if (mode === 'value') text += chunk.slice(Math.max(start, 0));
    // Hand out what this chunk completed before reading the next one.
    while (pending.length) yield pending.shift();
  }
  const last = mode as Mode; // (assigned in the loop above)
  if (last !== 'end') throw last === 'top' ? notJson('the file is empty') : notJson('unexpected end of the file');
  if (!found) throw shape();
}
