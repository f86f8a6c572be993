// Amazon Bedrock: runtime calls (InvokeModel, Converse and their streams) and control-plane reads (inference
// profiles), signed with SigV4 (service "bedrock") after every rewrite, or sent with a Bedrock API key.
import type { AwsCredentialIdentity, Provider } from "@smithy/types";
import type { ProviderConfig } from "../config/providers.js";
import { type AwsSigner, createSigner } from "./sigv4.js";
import { ProviderAuthError, type ProviderAdapter, type UpstreamInput, type UpstreamRequest, addHeaderLines, upstreamUrl } from "./types.js";

export type BedrockConfig = Extract<ProviderConfig, { type: "bedrock" }>;

export function bedrockRuntimeUrl(config: BedrockConfig): string {
  return config.baseurl ?? `https://bedrock-runtime.${config.region}.amazonaws.com`;
}

export function bedrockControlUrl(config: BedrockConfig): string {
  return config.control_baseurl ?? `https://bedrock.${config.region}.amazonaws.com`;
}

/** The standard AWS chain, loaded on first use; the SDK memoizes it and refreshes expiring credentials. */
function chainCredentials(): Provider<AwsCredentialIdentity> {
  let provider: Promise<Provider<AwsCredentialIdentity>> | null = null;
  return async () => {
    provider ??= import("@aws-sdk/credential-provider-node").then((m) => m.defaultProvider());
    try {
      return await (await provider)();
    } catch (err) {
      throw new ProviderAuthError(`no AWS credentials from the default credential chain (${(err as Error).message.split("\n")[0]})`);
    }
  };
}

export interface BedrockAdapter extends ProviderAdapter<BedrockConfig> {
  /** A request to the control plane (bedrock.{region}), authenticated like runtime calls. */
  prepareControl(input: Omit<UpstreamInput, "model">, config: BedrockConfig): Promise<UpstreamRequest>;
}

export function createBedrockProvider(): BedrockAdapter {
  // Keyed by the (frozen) config object, so a config reload gets fresh credentials and signing keys.
  const signers = new WeakMap<BedrockConfig, AwsSigner>();
  const signerFor = (config: BedrockConfig): AwsSigner => {
    let signer = signers.get(config);
    if (!signer) {
      const c = config.credentials;
      const credentials: AwsCredentialIdentity | Provider<AwsCredentialIdentity> =
        c.kind === "static"
          ? { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key, ...(c.session_token ? { sessionToken: c.session_token } : {}) }
          : chainCredentials();
      signer = createSigner({ region: config.region, service: "bedrock", credentials });
      signers.set(config, signer);
    }
    return signer;
  };

  const authorize = async (base: string, input: Omit<UpstreamInput, "model">, config: BedrockConfig): Promise<UpstreamRequest> => {
    const url = upstreamUrl(base, input.path, input.query);
    const headers = new Headers(input.headers);
    addHeaderLines(headers, config.headers);
    if (config.credentials.kind === "api_key") headers.set("authorization", `Bearer ${config.credentials.api_key}`);
    else await signerFor(config).sign(url, input.method, headers, input.body);
    return { url, method: input.method, headers, body: input.body };
  };

  return {
    type: "bedrock",
    priceProvider: "aws",
    configured(config) {
      const c = config.credentials;
      if (c.kind === "static") return c.access_key_id !== "" && c.secret_access_key !== "";
      return c.kind === "chain" || c.api_key !== "";
    },
    secrets(config) {
      const c = config.credentials;
      if (c.kind === "static") return [c.secret_access_key, ...(c.session_token ? [c.session_token] : [])];
      return c.kind === "api_key" ? [c.api_key] : [];
    },
    prepare: (input, config) => authorize(bedrockRuntimeUrl(config), input, config),
    prepareControl: (input, config) => authorize(bedrockControlUrl(config), input, config),
  };
}
