package com.bettercloud.vault;

public class VaultConfig {
    public VaultConfig address(String address) {
        return this;
    }

    public VaultConfig token(String token) {
        return this;
    }

    public VaultConfig engineVersion(Integer version) {
        return this;
    }

    public VaultConfig build() throws VaultException {
        return this;
    }
}
