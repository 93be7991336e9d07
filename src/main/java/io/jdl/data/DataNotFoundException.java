package io.jdl.data;

import java.io.IOException;

/**
 * A data set could not be found in any of the places searched; the message lists every place and says
 * how to get the files.
 */
public class DataNotFoundException extends IOException {
    public DataNotFoundException(String message) {
        super(message);
    }
}
