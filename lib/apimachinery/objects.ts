/**
 * Shapes of Kubernetes API objects that the ports of `election/` and `tasks/` share. Pure: no
 * imports and no I/O, so any folder may import it (see `lib/kube/README.md`).
 *
 * @module
 */

/**
 * A reference to the object that owns ours: when it is deleted, Kubernetes' garbage collector
 * deletes the objects that name it (and no other live owner).
 */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}
