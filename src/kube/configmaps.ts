// One key of one ConfigMap (a TrustRoot's `configMapRef`): `get` on that ConfigMap only.
import type { CoreV1Api } from '@kubernetes/client-node';
import { SigwardError } from '../errors.ts';

export async function readConfigMapKey(
  core: CoreV1Api,
  namespace: string,
  name: string,
  key: string,
): Promise<string> {
  let data: Record<string, string> | undefined;
  try {
    data = (await core.readNamespacedConfigMap({ namespace, name })).data;
  } catch (error) {
    throw new SigwardError('KUBE_CONFIGMAP_UNREADABLE', `configmap ${namespace}/${name} could not be read`, {
      cause: error,
    });
  }
  const value = data?.[key];
  if (value === undefined)
    throw new SigwardError('KUBE_CONFIGMAP_KEY_MISSING', `configmap ${namespace}/${name} has no key ${key}`);
  return value;
}
