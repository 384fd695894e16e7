module dz-mcall/tests/kube/recorder

go 1.24
