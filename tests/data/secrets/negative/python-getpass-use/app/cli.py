import getpass
password = getpass.getpass('Password: ')
token = os.environ['API_TOKEN']
