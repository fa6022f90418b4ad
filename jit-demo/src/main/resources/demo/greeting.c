int counter = 1;

const char *greeting(int hour) {
    switch (hour / 3) {
    case 0: return "Good night";
    case 1: return "Early hello";
    case 2: return "Good morning";
    case 3: return "Hello";
    case 4: return "Good afternoon";
    case 5: return "Good afternoon";
    case 6: return "Good evening";
    default: return "Good night";
    }
}
