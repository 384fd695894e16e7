if (import.meta.main) {
  console.log("dz-mcall");
}
