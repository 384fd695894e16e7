/**
 * Reading a process's blocked-signal mask from `/proc/<pid>/status` text (`grep SigBlk` output
 * or the whole file), for the tests of `dz-mcall-nosigusr1` on the host, in the image and on the
 * real node.
 *
 * @module
 */

/** SIGUSR1 on Linux (signal 10): bit 9 of the masks in `/proc/<pid>/status`. */
export const SIGUSR1_BIT = 1n << 9n;

/**
 * The `SigBlk` mask in `status`, as a number.
 *
 * @throws {Error} When `status` has no `SigBlk` line.
 */
export function sigBlk(status: string): bigint {
  const hex = /^SigBlk:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) throw new Error(`no SigBlk line in ${JSON.stringify(status)}`);
  return BigInt(`0x${hex}`);
}
