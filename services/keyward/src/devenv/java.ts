/** Finds a JDK that Keycloak 26.7 supports (25, 21 or the deprecated 17). */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const SUPPORTED_JAVA = [25, 21, 17] as const;

/** The feature version from `java -version` output ("openjdk version "25.0.3" …" → 25; "1.8.0_x" → 8). */
export function parseJavaVersion(output: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

function versionOf(home: string): number | undefined {
  const java = join(home, 'bin', 'java');
  if (!existsSync(java)) return undefined;
  try {
    const out = execFileSync(java, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return parseJavaVersion(out);
  } catch (err) {
    return parseJavaVersion(String((err as { stderr?: string }).stderr ?? ''));
  }
}

function versionOfStderr(home: string): number | undefined {
  const java = join(home, 'bin', 'java');
  if (!existsSync(java)) return undefined;
  try {
    // java -version prints on stderr
    const out = execFileSync('sh', ['-c', `"${java}" -version 2>&1`], { encoding: 'utf8' });
    return parseJavaVersion(out);
  } catch {
    return versionOf(home);
  }
}

export interface JavaHome {
  readonly home: string;
  readonly version: number;
}

/**
 * KEYWARD_JAVA_HOME, then JAVA_HOME, then the newest supported JDK under
 * /usr/lib/jvm (and the java on PATH last).
 */
export function findJava(env: NodeJS.ProcessEnv = process.env): JavaHome {
  const candidates: string[] = [];
  if (env.KEYWARD_JAVA_HOME) candidates.push(env.KEYWARD_JAVA_HOME);
  if (env.JAVA_HOME) candidates.push(env.JAVA_HOME);
  const found: JavaHome[] = [];
  for (const home of candidates) {
    const v = versionOfStderr(home);
    if (v && (SUPPORTED_JAVA as readonly number[]).includes(v)) return { home, version: v };
    if (home === env.KEYWARD_JAVA_HOME) throw new Error(`KEYWARD_JAVA_HOME=${home} is not a JDK 17, 21 or 25`);
  }
  for (const dir of ['/usr/lib/jvm', '/usr/local/lib/jvm', '/opt/java']) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const v = versionOfStderr(join(dir, name));
      if (v && (SUPPORTED_JAVA as readonly number[]).includes(v)) found.push({ home: join(dir, name), version: v });
    }
  }
  if (found.length === 0) {
    try {
      const javaBin = execFileSync('sh', ['-c', 'readlink -f "$(command -v java)"'], { encoding: 'utf8' }).trim();
      const home = javaBin.replace(/\/bin\/java$/, '');
      const v = versionOfStderr(home);
      if (v && (SUPPORTED_JAVA as readonly number[]).includes(v)) found.push({ home, version: v });
    } catch {
      /* no java on PATH */
    }
  }
  found.sort((a, b) => b.version - a.version);
  if (!found[0]) throw new Error('no supported JDK found (Keycloak needs Java 17, 21 or 25): install one (e.g. apt-get install openjdk-21-jre-headless) or set KEYWARD_JAVA_HOME');
  return found[0];
}
