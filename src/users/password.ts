/**
 * Password hashing with argon2id (RFC 9106), parameters from the OWASP Password Storage Cheat Sheet
 * (m = 19 MiB, t = 2, p = 1), https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
 * The PHC string carries its parameters, so stronger settings later still verify old hashes.
 */
import argon2 from 'argon2';

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
}

/** False for a wrong password and for anything that is not a hash argon2 can read. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}
