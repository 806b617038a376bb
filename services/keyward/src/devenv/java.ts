/**
 * Finds a JDK that Keycloak 26.7 supports: 25 or 21, or 17 (deprecated since
 * Keycloak 26.5, still accepted). Source: Keycloak's
 * docs/guides/server/supported-configurations.adoc; JDK 25 since 26.6.0 (PR #45872).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/** Supported feature versions, most preferred first. */
export const SUPPORTED_JAVA = [25, 21, 17] as const;

export interface JavaHome {
  /** A directory with `bin/java`. */
  readonly home: string;
  /** The feature version (17, 21, 25). */
  readonly version: number;
  /** How it was found: the variable that named it, or the directory scanned. */
  readonly source: string;
}

/** Directories whose sub-directories are JDK homes (Debian/Ubuntu, RPM distros, /opt installs, macOS). */
export const JVM_DIRS: readonly string[] = ['/usr/lib/jvm', '/usr/local/lib/jvm', '/opt/java', '/Library/Java/JavaVirtualMachines'];

/**
 * The feature version in the output of `java -version` (which Java prints on stderr).
 *
 * @example parseJavaVersion('openjdk version "25.0.3" 2026-04-21 LTS') // 25
 * @example parseJavaVersion('java version "1.8.0_401"') // 8
 */
export function parseJavaVersion(output: string): number | undefined {
  const m = /\bversion "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

/**
 * The feature version in a JDK's `release` file (`JAVA_VERSION="21.0.5"`): no JVM
 * needs to start, so scanning /usr/lib/jvm stays fast.
 */
export function parseReleaseFile(text: string): number | undefined {
  const m = /^JAVA_VERSION="?([^"\n]+)"?/m.exec(text);
  return m ? parseJavaVersion(`version "${m[1]}"`) : undefined;
}

/** The feature version of the JDK at `home`, or undefined when it is none. */
export function javaVersionOf(home: string): number | undefined {
  const java = join(home, 'bin', 'java');
  if (!existsSync(java)) return undefined;
  try {
    const v = parseReleaseFile(readFileSync(join(home, 'release'), 'utf8'));
    if (v) return v;
  } catch {
    /* no release file: ask the JVM */
  }
  const r = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 20_000 });
  return parseJavaVersion(`${r.stderr ?? ''}\n${r.stdout ?? ''}`);
}

const supported = (v: number | undefined): v is number => v !== undefined && (SUPPORTED_JAVA as readonly number[]).includes(v);

/**
 * Order: `KEYWARD_JAVA_HOME` (must be supported, else an error), `JAVA_HOME` if
 * its version is supported, the newest supported JDK under {@link JVM_DIRS},
 * and last the `java` on PATH.
 *
 * @example findJava() // { home: '/usr/lib/jvm/temurin-25-jdk-amd64', version: 25, source: '/usr/lib/jvm' }
 */
export function findJava(env: NodeJS.ProcessEnv = process.env, dirs: readonly string[] = JVM_DIRS): JavaHome {
  if (env.KEYWARD_JAVA_HOME) {
    const home = env.KEYWARD_JAVA_HOME;
    const v = javaVersionOf(home);
    if (!supported(v)) {
      throw new Error(
        `KEYWARD_JAVA_HOME=${home} is ${v ? `Java ${v}` : 'not a JDK (no bin/java)'};` +
          ' Keycloak needs Java 25, 21 or 17: point it at such a JDK or unset it',
      );
    }
    return { home, version: v, source: 'KEYWARD_JAVA_HOME' };
  }
  if (env.JAVA_HOME) {
    const v = javaVersionOf(env.JAVA_HOME);
    if (supported(v)) return { home: env.JAVA_HOME, version: v, source: 'JAVA_HOME' };
  }
  const found: JavaHome[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      // macOS bundles keep the home in Contents/Home.
      const home = existsSync(join(dir, name, 'Contents', 'Home', 'bin', 'java')) ? join(dir, name, 'Contents', 'Home') : join(dir, name);
      let real: string;
      try {
        real = realpathSync(home);
      } catch {
        continue;
      }
      if (seen.has(real)) continue; // Debian's java-1.17.0-openjdk-amd64 -> java-17-openjdk-amd64
      seen.add(real);
      const v = javaVersionOf(home);
      if (supported(v)) found.push({ home, version: v, source: dir });
    }
  }
  found.sort((a, b) => b.version - a.version);
  if (found[0]) return found[0];
  const which = spawnSync('/bin/sh', ['-c', 'command -v java'], { encoding: 'utf8', env: { PATH: env.PATH ?? '' } });
  const onPath = which.status === 0 ? which.stdout.trim() : '';
  if (onPath) {
    const home = join(realpathSync(onPath), '..', '..');
    const v = javaVersionOf(home);
    if (supported(v)) return { home, version: v, source: 'PATH' };
  }
  throw new Error(
    'no supported JDK found (Keycloak needs Java 25, 21 or 17): install one' +
      ' (e.g. apt-get install openjdk-17-jdk-headless, or a Temurin 21/25) or set KEYWARD_JAVA_HOME to its directory',
  );
}
