package com.bettercloud.vault.api;

import com.bettercloud.vault.VaultException;
import com.bettercloud.vault.response.LogicalResponse;

public class Logical {
    public LogicalResponse read(String path) throws VaultException {
        throw new UnsupportedOperationException("stub");
    }
}
