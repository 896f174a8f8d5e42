// npm run token -- <userId> [--admin]: prints a bearer token signed with JWT_SECRET (or the development secret),
// valid 30 days, carrying JWT_ISSUER / JWT_AUDIENCE when they are set.
import { signToken } from '../src/auth.js';
import { loadConfigOrExit } from '../src/config.js';

const args = process.argv.slice(2);
const userId = args.find((arg) => !arg.startsWith('--'));
if (!userId) {
  console.error('usage: npm run token -- <userId> [--admin]');
  process.exit(2);
}
const config = loadConfigOrExit();
console.log(await signToken(userId, config.jwtSecret, { admin: args.includes('--admin'), issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }));
