package com.bettercloud.vault;

import com.bettercloud.vault.api.Logical;

public class Vault {
    public Vault(VaultConfig config) {
    }

    public Logical logical() {
        throw new UnsupportedOperationException("stub");
    }
}
