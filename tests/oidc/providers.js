// OpenID providers for the gateway's tests, built on the OpenID-certified `oidc-provider`:
// FranceConnect-like (and FranceConnect+-like) for citizens, ProConnect-like for agents.
//
//   node providers.js CONFIG.json
//
// CONFIG.json: { "providers": { NAME: { "kind": "citizen" | "agent", "acr_values": [...],
//   "id_token_alg": "ES256", "clients": [ { client_id, client_secret | jwks, redirect_uris,
//   post_logout_redirect_uris } ] } }, "citizens": [ { login, given_name, family_name, birthdate,
//   gender, birthplace, birthcountry, email, max_acr } ], "agents": [ { login, email, given_name,
//   usual_name, siret, uid } ] }
//
// Each provider listens on its own free port of 127.0.0.1; once all listen, one JSON line on
// stdout maps each name to its issuer. What makes them FranceConnect-like: the `identite_pivot`
// scope and its claims, eIDAS `acr` values (the level asked, capped by the strongest means the
// person has: `max_acr`), pairwise `sub`, a signed userinfo, RP-initiated logout. ProConnect-like:
// the `siret`, `usual_name` and `uid` claims, each behind the scope of the same name.
//
// The login and consent pages are oidc-provider's own development interactions (any password).
// Tests make a provider misbehave through PUT /_test/fault (JSON): `fault` rewrites the ID token
// the token endpoint returns (`bad_signature`, `unknown_kid`, `rotated_key`, `wrong_aud`,
// `expired`, `bad_nonce`) or signs the userinfo with another key (`userinfo_bad_signature`);
// `delay_ms` holds every request that long first. DELETE clears it.

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';

import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const RANK = { eidas1: 1, eidas2: 2, eidas3: 3 };

async function signingKeys() {
  const keys = [];
  for (const [alg, options] of [['ES256', {}], ['RS256', { modulusLength: 2048 }]]) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
    keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomUUID()}` });
  }
  return keys;
}

function publicJwk(jwk) {
  const { d, p, q, dp, dq, qi, ...rest } = jwk;
  return rest;
}

const CLAIMS = {
  citizen: {
    openid: ['sub'],
    identite_pivot: ['given_name', 'family_name', 'birthdate', 'gender', 'birthplace', 'birthcountry'],
    email: ['email'],
  },
  agent: {
    openid: ['sub'],
    email: ['email'],
    given_name: ['given_name'],
    usual_name: ['usual_name'],
    siret: ['siret'],
    uid: ['uid'],
  },
};

function accountsOf(kind) {
  const people = kind === 'citizen' ? config.citizens : config.agents;
  return new Map(people.map((person) => [person.login, person]));
}

function pageOf(title, body) {
  // Plain pages: nothing fetched from elsewhere (the tests run offline).
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

async function start(name, spec) {
  const keys = await signingKeys();
  const accounts = accountsOf(spec.kind);
  const acrValues = spec.acr_values ?? [];
  const state = { fault: null, delayMs: 0, extraKey: null };

  // The issuer names the port: listen first, then hand the requests to the provider.
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    clients: spec.clients.map((client) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: client.jwks ? 'private_key_jwt' : 'client_secret_post',
      id_token_signed_response_alg: spec.id_token_alg ?? 'ES256',
      // A signed userinfo (a JWT, as FranceConnect v2 answers) unless `userinfo_alg` is null: JSON.
      ...(spec.userinfo_alg === null ? {} : { userinfo_signed_response_alg: spec.userinfo_alg ?? 'ES256' }),
      subject_type: 'pairwise',
      ...client,
    })),
    jwks: { keys },
    claims: CLAIMS[spec.kind],
    acrValues,
    subjectTypes: ['public', 'pairwise'],
    // FranceConnect: one `sub` per person and per service (sector), never the account's own id.
    pairwiseIdentifier: async (ctx, accountId, client) => createHash('sha256')
      .update(`${client.sectorIdentifier}|${accountId}|${name}-salt`)
      .digest('hex'),
    findAccount: async (ctx, id) => {
      const person = accounts.get(id);
      if (!person) return undefined;
      return {
        accountId: id,
        async claims() {
          const { login, max_acr: maxAcr, ...claims } = person;
          return { sub: id, ...claims };
        },
      };
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = pageOf('Sign out', `<p>Do you want to sign out from ${ctx.host}?</p>${form}`
            + '<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>'
            + '<button type="submit" form="op.logoutForm">No, stay signed in</button>');
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = pageOf('Signed out', '<p>You are signed out.</p>');
        },
      },
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    cookies: { keys: [randomUUID()] },
  });
  provider.on('server_error', (ctx, error) => console.error(name, error));

  // The gateway under test listens on a port chosen at run time: its registered URIs name
  // `http://localhost/...`, and any port of localhost is accepted for them.
  const portless = (uri) => {
    const url = new URL(uri);
    if (url.hostname === 'localhost') url.port = '';
    return url.href;
  };
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    return this.redirectUris.some((uri) => portless(uri) === portless(value));
  };
  provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value) {
    return (this.postLogoutRedirectUris ?? []).some((uri) => portless(uri) === portless(value));
  };

  // The level the person logs in at: the one asked for, if their means of identification reach it.
  const finished = provider.interactionFinished.bind(provider);
  provider.interactionFinished = async (req, res, result, options) => {
    if (result.login) {
      const { params } = await provider.interactionDetails(req, res);
      const asked = (params.acr_values || acrValues[0] || '').split(' ')[0];
      const person = accounts.get(result.login.accountId);
      const strongest = person?.max_acr ?? acrValues[acrValues.length - 1];
      result.login.acr = RANK[strongest] < RANK[asked] ? strongest : asked;
      result.login.amr = ['pwd'];
    }
    return finished(req, res, result, options);
  };

  provider.use(async (ctx, next) => {
    if (ctx.path === '/_test/fault') {
      if (ctx.method === 'PUT') {
        const chunks = [];
        for await (const chunk of ctx.req) chunks.push(chunk);
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
        state.fault = body.fault ?? null;
        state.delayMs = body.delay_ms ?? 0;
      } else if (ctx.method === 'DELETE') {
        state.fault = null;
        state.delayMs = 0;
      }
      ctx.body = { fault: state.fault, delay_ms: state.delayMs };
      return;
    }
    if (state.delayMs) {
      await new Promise((resolve) => { setTimeout(resolve, state.delayMs); });
    }
    await next();
    if (ctx.path === '/jwks' && state.fault === 'rotated_key' && state.extraKey) {
      ctx.body = { keys: [...ctx.body.keys, publicJwk(state.extraKey)] };
    }
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token && state.fault) {
      ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token, state, keys) };
    }
    if (ctx.path === '/me' && ctx.status === 200 && typeof ctx.body === 'string' && state.fault === 'userinfo_bad_signature') {
      ctx.body = await tampered(ctx.body, { fault: 'bad_signature' }, keys);
    }
  });

  server.on('request', provider.callback());
  return issuer;
}

async function tampered(idToken, state, keys) {
  const header = decodeProtectedHeader(idToken);
  const claims = decodeJwt(idToken);
  const own = keys.find((key) => key.kid === header.kid);
  const now = Math.floor(Date.now() / 1000);
  let jwk = own;
  let kid = own.kid;
  switch (state.fault) {
    case 'bad_signature':
      // Same key id, another key: the signature cannot verify.
      jwk = (await signingKeys()).find((key) => key.alg === own.alg);
      break;
    case 'unknown_kid':
      jwk = (await signingKeys()).find((key) => key.alg === own.alg);
      kid = 'a-key-nobody-published';
      break;
    case 'rotated_key':
      // A new key, published in the JWKS from now on: a relying party that cached the old set
      // must fetch it again.
      state.extraKey = state.extraKey ?? (await signingKeys()).find((key) => key.alg === own.alg);
      jwk = state.extraKey;
      kid = state.extraKey.kid;
      break;
    case 'wrong_aud':
      claims.aud = 'another-client';
      break;
    case 'expired':
      claims.iat = now - 1200;
      claims.exp = now - 600;
      break;
    case 'bad_nonce':
      claims.nonce = 'not-the-nonce-you-sent';
      break;
    default:
      return idToken;
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: own.alg, kid, typ: header.typ })
    .sign(await importJWK(jwk, own.alg));
}

const issuers = {};
for (const [name, spec] of Object.entries(config.providers)) {
  issuers[name] = await start(name, spec);
}
process.stdout.write(`${JSON.stringify(issuers)}\n`);
process.on('SIGTERM', () => process.exit(0));
