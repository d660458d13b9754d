/** User name and password of a test registry or token issuer. */
export interface RegistryCredentials {
  /** The user name. */
  username: string;
  /** The password. */
  password: string;
}

/** The user `startRegistry` and `startTokenIssuer` create when none is given: `tester` / `tester-password`. */
export const DEFAULT_TEST_USER: Readonly<RegistryCredentials> = Object.freeze({ username: 'tester', password: 'tester-password' });
