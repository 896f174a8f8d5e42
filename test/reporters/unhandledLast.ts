// Repeats each unhandled error of the run, short, as the very last lines of the output. The default
// reporter prints them in full further up; a CI log that keeps only its tail then still says what the
// error was and where it came from, instead of only that there was one.
import type { Reporter } from 'vitest/reporters';

type Unhandled = { name?: string; message?: string; stack?: string; type?: string; stacks?: { file: string; line: number; method?: string }[] };

export default class UnhandledLast implements Reporter {
  onTestRunEnd(_modules: unknown, errors: readonly unknown[]): void {
    if (errors.length === 0) return;
    const lines = errors.map((raw, i) => {
      const error = raw as Unhandled;
      const frames = error.stacks?.slice(0, 6).map((frame) => `    at ${frame.method ?? ''} ${frame.file}:${frame.line}`) ??
        error.stack?.split('\n').slice(1, 7) ?? [];
      return [`  ${i + 1}. ${error.type ?? 'Error'}: ${error.name ?? 'Error'}: ${error.message ?? String(raw)}`, ...frames].join('\n');
    });
    process.stdout.write(`\nUnhandled errors (${errors.length}), repeated in short:\n${lines.join('\n')}\n`);
  }
}
