package dev.jdyld.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One input to a load: a name for messages and the bytes of a relocatable object.
 *
 * @param name  file name or any label; appears in every error about this input
 * @param bytes the object's contents (not copied; do not change them during a load)
 */
public record ObjectFile(String name, byte[] bytes) {
    /**
     * Reads a file; an unreadable file is a {@link LinkException} naming it.
     *
     * @param path the file
     * @return its name and bytes
     */
    public static ObjectFile read(Path path) {
        try {
            return new ObjectFile(path.toString(), Files.readAllBytes(path));
        } catch (IOException | OutOfMemoryError e) {
            throw new LinkException(Location.file(path.toString()), "cannot read: " + e.getMessage(), e);
        }
    }
}
