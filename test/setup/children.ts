// Child processes the store tests drive, bundled by test/setup/build.ts so that they start on plain
// node: through tsx, each start compiled the store and its imports anew.
import path from 'node:path';

export const CHILDREN_DIR = path.resolve(import.meta.dirname, '../../.tmp/test-children');
export const CHILD_SOURCES = ['test/store/crash-writer.ts', 'test/store/store-child.ts', 'test/store/close-child.ts'];

/** The bundled form of a child, e.g. testChild('crash-writer'). */
export const testChild = (name: string) => path.join(CHILDREN_DIR, `${name}.js`);
