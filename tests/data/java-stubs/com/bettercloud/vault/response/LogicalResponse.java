package com.bettercloud.vault.response;

import java.util.Map;

public class LogicalResponse {
    public Map<String, String> getData() {
        throw new UnsupportedOperationException("stub");
    }
}
