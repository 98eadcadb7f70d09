import type { ValidateFunction } from 'ajv';
import fastJsonStringify from 'fast-json-stringify';

/**
 * Route schemas compiled when a route is first used, not when the server starts. Compiling every
 * route's validators (Ajv) and response serializers (fast-json-stringify) was 40–45 % of the HTTP
 * thread's CPU while a restarted server got ready, and most routes of a running server are never
 * called (nor most of those of a test that builds the app). A schema that cannot compile must
 * still fail before anyone calls its route: `compileAll` compiles every one at once, and a test
 * runs it over the whole app.
 */
export class LazySchemas {
  readonly #pending = new Set<() => unknown>();

  /** Compiles once, on the first call of `force` (or of `compileAll`), naming `where` if it fails. */
  #once<F>(where: string, compile: () => F): () => F {
    let fn: F | null = null;
    const force = (): F => {
      if (fn === null) {
        try {
          fn = compile();
        } catch (err) {
          throw new Error(`${where}: the schema does not compile: ${(err as Error).message}`, { cause: err });
        }
        this.#pending.delete(force);
      }
      return fn;
    };
    this.#pending.add(force);
    return force;
  }

  /** A validator that compiles on its first call; it carries Ajv's `errors`, as Fastify expects. */
  validator(where: string, compile: () => ValidateFunction): (data: unknown) => boolean {
    const force = this.#once(where, compile);
    const validate = Object.assign(
      (data: unknown): boolean => {
        const fn = force();
        const ok = fn(data);
        validate.errors = fn.errors ?? null;
        return ok;
      },
      { errors: null as ValidateFunction['errors'] },
    );
    return validate;
  }

  /** A response serializer (Fastify's default, fast-json-stringify) that compiles on its first call. */
  serializer(where: string, schema: object): (data: unknown) => string {
    const force = this.#once(where, () => fastJsonStringify(schema) as (data: unknown) => string);
    return (data) => force()(data);
  }

  /** Compiles every schema not compiled yet; throws for the first that cannot be. Returns how many. */
  compileAll(): number {
    const all = [...this.#pending];
    for (const force of all) force();
    return all.length;
  }
}
