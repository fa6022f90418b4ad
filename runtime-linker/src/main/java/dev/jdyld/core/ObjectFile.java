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
            // As the C library says it: the exception's message is only the path again.
            String why = switch (e) {
                case java.nio.file.NoSuchFileException missing -> "No such file or directory";
                case java.nio.file.AccessDeniedException denied -> "Permission denied";
                case java.nio.file.FileSystemException other when other.getReason() != null -> other.getReason();
                default -> e.getMessage();
            };
            throw new LinkException(Location.file(path.toString()), "cannot read: " + why, e);
        }
    }
}
