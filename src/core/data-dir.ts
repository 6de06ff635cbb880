/**
 * The file keyturn writes into its data directory (`<dataDir>/.keyturn-data`) so that a scan of a
 * tree holding it — `keyturn scan . --respond` or a watch of the working directory — skips the
 * directory instead of reading the server's own admin key and suspending it.
 */
export const DATA_DIR_MARKER = '.keyturn-data';

/** The text of the marker file. */
export const DATA_DIR_MARKER_TEXT = 'This is a keyturn data directory: keyturn scans and watches skip it.\n';

/** Files that, together, make a directory a keyturn data directory even without the marker (older versions). */
export const DATA_DIR_FILES = ['admin.key', 'master.key'] as const;
